// The staff console (service_kit.console): names for the controls Django's admin leaves without
// one, so that assistive technology can tell them apart.
(function () {
  "use strict";

  // A list's editable cells (list_editable): each named by its column and its row's object.
  function nameListCells() {
    const table = document.getElementById("result_list");
    if (!table || !table.tHead || !table.tBodies.length) return;
    const columns = Array.from(table.tHead.rows[0].cells, (cell) => cell.textContent.trim());
    for (const row of table.tBodies[0].rows) {
      const heading = row.querySelector("th");
      const object = heading ? heading.textContent.trim() : "";
      for (const cell of row.cells) {
        const column = columns[cell.cellIndex];
        for (const field of cell.querySelectorAll("input:not([type=hidden]), select, textarea")) {
          if (!column || field.labels.length || field.hasAttribute("aria-label")) continue;
          field.setAttribute("aria-label", object ? `${column}: ${object}` : column);
        }
      }
    }
  }

  // A many-to-many selector's filter icons (SelectFilter2.js, built at load) carry their text in
  // aria-label, which a span may only carry with a role.
  function nameFilterIcons() {
    for (const icon of document.querySelectorAll("span.search-label-icon[aria-label]:not([role])")) {
      icon.setAttribute("role", "img");
    }
  }

  document.addEventListener("DOMContentLoaded", nameListCells);
  window.addEventListener("load", nameFilterIcons);
})();
