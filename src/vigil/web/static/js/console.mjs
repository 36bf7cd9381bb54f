// Keyboard shortcuts for the triage queue: j next row, k previous row, c claim the selected
// row. Progressive enhancement only: without this file every row is a link and every claim
// is an ordinary form. Served as a file because the console's CSP allows no inline script.
const table = document.querySelector("[data-console-queue]");

function rows() {
  return Array.from(table.querySelectorAll("[data-console-row]"));
}

function current() {
  const active = document.activeElement;
  return active ? rows().findIndex((row) => row.contains(active)) : -1;
}

function select(index) {
  const all = rows();
  if (all.length === 0) {
    return;
  }
  const row = all[Math.max(0, Math.min(index, all.length - 1))];
  const link = row.querySelector("[data-console-link]");
  if (link) {
    link.focus();
    row.scrollIntoView({ block: "nearest" });
  }
}

function typing(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName))
  );
}

if (table) {
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) {
      return;
    }
    const at = current();
    if (event.key === "j") {
      event.preventDefault();
      select(at + 1);
    } else if (event.key === "k") {
      event.preventDefault();
      select(at < 0 ? 0 : at - 1);
    } else if (event.key === "c" && at >= 0) {
      const form = rows()[at].querySelector("form[data-console-claim]");
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
    }
  });
}
