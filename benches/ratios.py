#!/usr/bin/env python3
"""Prints the ratios the README quotes, from criterion's last runs (target/criterion)."""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"


def mean_ns(group, bench):
    path = root / group / bench / "new" / "estimates.json"
    try:
        return json.loads(path.read_text())["mean"]["point_estimate"]
    except FileNotFoundError:
        sys.exit(f"missing {path}: run `cargo bench -p twostep-benches --bench otp` first")


rows = []
for group in ["verify_wrong_code_window_1", "verify_right_code_window_1", "stored_secret_to_verdict"]:
    ours, theirs = mean_ns(group, "twostep-otp"), mean_ns(group, "totp-rs-6")
    rows.append((group, ours, theirs))
    print(f"{group:32} twostep-otp {ours:8.1f} ns   totp-rs 6 {theirs:8.1f} ns   totp-rs / twostep = {theirs / ours:.2f}x")
floor = mean_ns("verify_wrong_code_window_1", "floor-6-sha1-compressions")
ours = rows[0][1]
print(f"{'floor: 6 SHA-1 compressions':32} {floor:8.1f} ns   twostep-otp / floor = {ours / floor:.2f}x")

group = "recovery_attempt_set_of_10"
if (root / group).exists():
    one = mean_ns(group, "floor-one-argon2id")
    ours = mean_ns(group, "twostep-recovery")
    naive = mean_ns(group, "naive-salt-per-code")
    print(f"{group:32} one Argon2id {one / 1e6:6.2f} ms   twostep-recovery {ours / 1e6:6.2f} ms ({ours / one:.3f}x)"
          f"   naive {naive / 1e6:6.2f} ms ({naive / one:.2f}x)")
