// Progressive enhancement only: every page works without JavaScript (the preview has a submit
// button). With it, an error summary takes focus on load, and the Link page preview follows the
// form as you type, with the character counts and the contrast of the button ink. Filters apply
// on their button, never on change (WCAG 3.2.2: a keyboard user arrowing through a select must
// not be sent to another page).
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();

  const form = document.getElementById("branding-form");
  if (!form) return;
  const value = (name) => form.elements[name].value.trim();

  // WCAG 2.x relative luminance and contrast ratio, as app/contrast.py computes them.
  const channel = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const luminance = (hex) => {
    const [r, g, b] = [1, 3, 5].map((i) => channel(parseInt(hex.slice(i, i + 2), 16) / 255));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

  const contrast = () => {
    const accent = form.elements.accent.value;
    if (!/^#[0-9a-fA-F]{6}$/.test(accent)) return;
    const light = luminance(accent);
    const onBlack = ratio(light, 0), onWhite = ratio(light, 1);
    const black = onBlack >= onWhite;
    document.querySelectorAll(".preview").forEach((preview) => {
      preview.style.setProperty("--accent", accent);
      preview.style.setProperty("--on-accent", black ? "#000000" : "#ffffff");
    });
    const box = document.getElementById("accent-contrast");
    if (!box) return;
    const shown = (n) => (Math.floor(n * 100) / 100).toFixed(2).replace(/0$/, "").replace(".", box.dataset.decimal);
    const [text, edge] = box.querySelectorAll("[data-template]");
    text.textContent = text.dataset.template
      .replace("{ink}", black ? box.dataset.black : box.dataset.white)
      .replace("{ratio}", shown(black ? onBlack : onWhite));
    edge.textContent = edge.dataset.template.replace("{edge}", shown(onWhite));
    box.querySelector("[data-low-text]").hidden = Math.max(onBlack, onWhite) >= 4.5;
    box.querySelector("[data-light]").hidden = onWhite >= 3;
  };

  const plural = new Intl.PluralRules(document.documentElement.lang || "en");
  const render = () => {
    form.querySelectorAll("[data-limit]").forEach((input) => {
      const count = document.getElementById(input.id + "-count");
      if (count) {
        const n = input.value.length;
        const form = plural.select(n) === "one" ? count.dataset.one : count.dataset.other;
        count.textContent = form.replace("{n}", String(n));
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
      document.querySelectorAll(".preview").forEach((preview) => {
        preview.style.setProperty("--accent", accent);
      });
    }
  };
  form.addEventListener("input", render);
  // The spoken ratio follows a chosen colour, not every step of dragging through the picker.
  form.elements.accent.addEventListener("change", contrast);
  form.elements.accent.addEventListener("input", () => {
    const accent = form.elements.accent.value;
    if (!/^#[0-9a-fA-F]{6}$/.test(accent)) return;
    const light = luminance(accent);
    document.querySelectorAll(".preview").forEach((preview) => {
      preview.style.setProperty("--on-accent", ratio(light, 0) >= ratio(light, 1) ? "#000000" : "#ffffff");
    });
  });

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
