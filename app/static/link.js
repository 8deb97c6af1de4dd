// Progressive enhancement only: the pages work without JavaScript (the codes are selectable).
// An error summary takes focus on load; the copy buttons appear when a clipboard exists.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();
  const status = document.querySelector(".copied");
  document.querySelectorAll("button.copy").forEach((button) => {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const value = document.getElementById(button.dataset.copy).textContent;
      await navigator.clipboard.writeText(value);
      if (status) status.textContent = status.dataset.copiedText;
    });
  });
});
