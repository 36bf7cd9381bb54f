// Draws the map page's reports with Leaflet (a vendored static file, window.L) from the JSON
// the page already holds (#map-data). Progressive enhancement only: the table on the page
// lists the same reports without JavaScript or tiles. Tiles come from the one configured
// tile server, the only other origin the page's CSP lets images come from; secure networks
// often cannot reach one, so the first tile that fails hides the map and shows the inset
// that says so (the table is still there). Everything is built with DOM calls and
// textContent (no HTML from data), and styles are set through the CSSOM, which the strict
// CSP allows.
const container = document.getElementById("map");
const source = document.getElementById("map-data");
const needsJs = document.getElementById("map-needs-js");
const unreachable = document.getElementById("map-unreachable");

function escapeHtml(text) {
  // Leaflet shows attribution as HTML; the setting is plain text.
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function details(point, text) {
  const box = document.createElement("div");
  const link = document.createElement("a");
  link.className = "govuk-link";
  link.href = point.url;
  link.textContent = point.reference;
  const heading = document.createElement("p");
  heading.className = "govuk-body govuk-!-font-weight-bold govuk-!-margin-bottom-1";
  heading.append(link);
  box.append(heading);
  for (const [key, value] of [
    ["received", `${point.received} UTC`],
    ["priority", point.priority],
    ["place", point.place],
  ]) {
    if (value) {
      const line = document.createElement("p");
      line.className = "govuk-body-s govuk-!-margin-bottom-1";
      line.textContent = `${text[key]}: ${value}`;
      box.append(line);
    }
  }
  return box;
}

function popup(group, text) {
  if (group.length === 1) {
    return details(group[0], text);
  }
  const list = document.createElement("ul");
  list.className = "govuk-list vigil-map-popup-list";
  for (const point of group) {
    const item = document.createElement("li");
    item.append(details(point, text));
    list.append(item);
  }
  return list;
}

function label(group, text) {
  if (group.length === 1) {
    return group[0].label;
  }
  return text.several
    .replace("%(num)s", String(group.length))
    .replace("%(references)s", group.map((p) => p.reference).join(", "));
}

// Markers closer than this (in screen pixels) would overlap, leaving targets too small to
// hit (WCAG 2.5.8): they are drawn as one marker whose popup lists each report.
const NEAR_X = 32;
const NEAR_Y = 48;

function groups(map, points) {
  const found = [];
  for (const point of points) {
    const at = map.latLngToLayerPoint([point.lat, point.lon]);
    const near = found.find(
      (g) => Math.abs(g.at.x - at.x) < NEAR_X && Math.abs(g.at.y - at.y) < NEAR_Y,
    );
    if (near) {
      near.points.push(point);
    } else {
      found.push({ at, points: [point] });
    }
  }
  return found.map((g) => g.points);
}

function markersFor(map, points, text) {
  const L = window.L;
  return groups(map, points).map((group) => {
    const name = label(group, text);
    const marker = L.marker([group[0].lat, group[0].lon], {
      alt: name,
      title: name,
      keyboard: true,
    });
    marker.bindPopup(() => popup(group, text), { maxHeight: 320 });
    // A keyboard user lands in the popup's first link, Escape closes it (Leaflet listens
    // for Escape only while the map itself has focus), and focus goes back to the marker.
    marker.on("popupopen", (event) => {
      const element = event.popup.getElement();
      element?.addEventListener("keydown", (key) => {
        if (key.key === "Escape") {
          marker.closePopup();
        }
      });
      element?.querySelector("a.govuk-link")?.focus();
    });
    marker.on("popupclose", () => marker.getElement()?.focus({ preventScroll: true }));
    return marker;
  });
}

function giveUp(map) {
  // Tiles cannot be reached: say so plainly and leave the table to do the work.
  map.remove();
  container.hidden = true;
  if (unreachable) {
    unreachable.hidden = false;
  }
}

function draw() {
  if (!container || !source || typeof window.L !== "object") {
    return;
  }
  const data = JSON.parse(source.textContent);
  if (!data.tiles.url || data.points.length === 0) {
    if (unreachable && !data.tiles.url) {
      unreachable.hidden = false;
    }
    return;
  }
  const L = window.L;
  needsJs?.remove();
  container.hidden = false;
  container.style.height = "32rem";
  container.style.border = "1px solid #b1b4b6";
  const map = L.map(container, { keyboard: true });
  const tiles = L.tileLayer(data.tiles.url, {
    attribution: escapeHtml(data.tiles.attribution || ""),
    maxZoom: 18,
  });
  let failed = false;
  tiles.on("tileerror", () => {
    if (!failed) {
      failed = true;
      giveUp(map);
    }
  });
  const bounds = L.latLngBounds(data.points.map((p) => [p.lat, p.lon]));
  if (data.points.length === 1) {
    map.setView(bounds.getCenter(), 14);
  } else {
    map.fitBounds(bounds, { padding: [48, 48], maxZoom: 15 });
  }
  tiles.addTo(map);
  const layer = L.layerGroup().addTo(map);
  const place = () => {
    layer.clearLayers();
    for (const marker of markersFor(map, data.points, data.text)) {
      layer.addLayer(marker);
    }
  };
  place();
  map.on("zoomend", place);
}

draw();
