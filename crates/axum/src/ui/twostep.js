// twostep-axum: copy the recovery codes, and the box that enables Done.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = [...document.getElementById(button.dataset.copy).querySelectorAll("li")]
        .map((item) => item.textContent.trim()).join("\n");
      try { await navigator.clipboard.writeText(text); button.textContent = button.dataset.copied; }
      catch { button.textContent = button.dataset.copyFailed; }
    });
  }
  for (const box of document.querySelectorAll("[data-enables]")) {
    const target = document.getElementById(box.dataset.enables);
    const sync = () => { target.disabled = !box.checked; };
    box.addEventListener("change", sync);
    sync();
  }
});
