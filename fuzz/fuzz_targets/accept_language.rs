//! `Lang::from_accept_language` (twostep-axum's pages) on arbitrary header text: no panics;
//! it names Korean only if a `ko` tag is there, English only if an `en` tag is there, and a
//! language whose only tags all carry `q=0` (their first `q`) is never chosen.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twostep_axum::ui::Lang;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let tags: Vec<(String, bool)> = header
        .split(',')
        .map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let refused = parts
                .find_map(|param| param.trim().strip_prefix("q="))
                .is_some_and(|q| {
                    let q = q.trim();
                    q == "0" || (q.starts_with("0.") && q[2..].bytes().all(|b| b == b'0'))
                });
            (tag, refused)
        })
        .collect();
    let offered = |primary: &str| {
        tags.iter()
            .any(|(tag, refused)| !refused && tag.split(['-', '_']).next() == Some(primary))
    };
    match Lang::from_accept_language(header) {
        Some(Lang::Ko) => assert!(offered("ko"), "Korean from {header:?}"),
        Some(Lang::En) => assert!(offered("en"), "English from {header:?}"),
        None => {}
    }
});
