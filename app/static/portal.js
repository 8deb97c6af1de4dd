// Progressive enhancement only: every page works without JavaScript (the preview has a submit
// button). With it, the Link page preview follows the form as you type, with the character
// counts. Filters apply on their button, never on change (WCAG 3.2.2: a keyboard user arrowing
// through a select must not be sent to another page).
document.addEventListener("DOMContentLoaded", () => {

  const form = document.getElementById("branding-form");
  if (!form) return;
  const value = (name) => form.elements[name].value.trim();

  const render = () => {
    form.querySelectorAll("[data-limit]").forEach((input) => {
      const count = document.getElementById(input.id + "-count");
      if (count) {
        count.textContent = count.textContent.replace(/\d+/, String(input.value.length));
      }
    });
    document.querySelectorAll(".pv-callout").forEach((box) => {
      const lang = box.dataset.lang;
      const own = value("title_" + lang);
      const title = own || value("title_en");
      const body = own ? value("body_" + lang) : value("body_en");
      box.querySelector(".pv-title").textContent = title;
      box.querySelector(".pv-body").textContent = body;
      box.hidden = !title;
    });
    const accent = form.elements.accent.value;
    if (/^#[0-9a-fA-F]{6}$/.test(accent)) {
      const rgb = [1, 3, 5].map((i) => parseInt(accent.slice(i, i + 2), 16) / 255);
      const luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
      document.querySelectorAll(".preview").forEach((preview) => {
        preview.style.setProperty("--accent", accent);
        preview.style.setProperty("--on-accent", luminance > 0.5 ? "#000000" : "#ffffff");
      });
    }
  };
  form.addEventListener("input", render);

  const logo = document.getElementById("logo");
  if (logo) {
    logo.addEventListener("change", () => {
      const file = logo.files && logo.files[0];
      if (!file) return;
      const url = URL.createObjectURL(file);
      document.querySelectorAll(".pv-logo").forEach((img) => { img.src = url; img.hidden = false; });
    });
  }
});
