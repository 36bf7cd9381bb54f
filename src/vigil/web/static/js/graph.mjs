// Draws a network (of an entity, report, subject or case) with Cytoscape.js from the JSON
// the page already holds (#graph-data), and expands it on demand. Progressive enhancement
// only: the tables on the page list the same records and links without JavaScript, and
// their "Expand" links open the chosen entity's own network page.
//
// Expanding: selecting a node in the drawing, or activating an "Expand" link in the
// records table (a link, so keyboard users reach it with Tab and Enter), fetches that
// record's neighbours one step out from the graph API (same origin; the API accepts the
// signed-in staff session for reads, and answers only with records the reader may see)
// and merges them into both the drawing and the tables; a polite live region says what
// was added. Double-selecting a node opens its page.
//
// Served as a file because the console's CSP allows no inline script; Cytoscape draws on
// a canvas and sets styles through the CSSOM, which the CSP allows. The one thing it would
// be refused is a <style> element it adds to make its container position: relative, and
// it adds that only when no element has the stylesheet's id: so this module sets the
// position itself and leaves a marker with that id.
const container = document.getElementById("graph");
const source = document.getElementById("graph-data");
const statusRegion = document.getElementById("graph-status");
const nodeTable = document.querySelector("#graph-nodes tbody");
const edgeTable = document.querySelector("#graph-edges tbody");

const MAX_NODES = 500;

// Colour and shape by node type, so type is not carried by colour alone.
const LOOK = {
  entity: { color: "#1d70b8", shape: "ellipse" },
  report: { color: "#d4351c", shape: "round-rectangle" },
  subject: { color: "#4c2c92", shape: "diamond" },
  case: { color: "#00703c", shape: "hexagon" },
};

// Each node type's console page and its one-step graph in the API.
const PAGES = {
  entity: "/console/entities/",
  report: "/console/reports/",
  subject: "/console/subjects/",
  case: "/console/cases/",
};
const API = {
  entity: "/api/v1/entities/",
  report: "/api/v1/reports/",
  subject: "/api/v1/subjects/",
  case: "/api/v1/cases/",
};

function split(id) {
  const at = id.indexOf(":");
  return [id.slice(0, at), id.slice(at + 1)];
}

function pageOf(node) {
  if (node.url) {
    return node.url;
  }
  const [type, key] = split(node.id);
  return PAGES[type] ? PAGES[type] + encodeURIComponent(key) : "";
}

function edgeKey(edge) {
  const [a, b] = [edge.source, edge.target].sort();
  return `${a}|${b}|${edge.relation}`;
}

function nodeElement(node) {
  return {
    group: "nodes",
    data: { id: node.id, label: node.label, type: node.type, url: pageOf(node) },
  };
}

function edgeElement(edge) {
  return {
    group: "edges",
    data: {
      id: edgeKey(edge),
      source: edge.source,
      target: edge.target,
      relation: edge.relation.replaceAll("_", " "),
    },
  };
}

function style() {
  const rules = [
    {
      selector: "node",
      style: {
        label: "data(label)",
        "font-size": 11,
        "text-valign": "bottom",
        "text-margin-y": 4,
        "background-color": "#505a5f",
        width: 24,
        height: 24,
      },
    },
    {
      selector: "edge",
      style: {
        label: "data(relation)",
        "font-size": 9,
        "curve-style": "bezier",
        "line-color": "#b1b4b6",
        "text-background-color": "#ffffff",
        "text-background-opacity": 1,
      },
    },
    { selector: "node.start", style: { "border-width": 4, "border-color": "#ffdd00" } },
    { selector: "node.expanded", style: { "border-width": 2, "border-color": "#0b0c0c" } },
  ];
  for (const [type, look] of Object.entries(LOOK)) {
    rules.push({
      selector: `node[type = "${type}"]`,
      style: { "background-color": look.color, shape: look.shape },
    });
  }
  return rules;
}

const CYTOSCAPE_STYLESHEET = "__________cytoscape_stylesheet";

function preventInlineStylesheet() {
  if (!document.getElementById(CYTOSCAPE_STYLESHEET)) {
    const marker = document.createElement("meta");
    marker.id = CYTOSCAPE_STYLESHEET;
    document.head.append(marker);
  }
  container.style.position = "relative";
}

function say(key, values = {}) {
  if (!statusRegion) {
    return;
  }
  let text = statusRegion.dataset[key] || "";
  for (const [name, value] of Object.entries(values)) {
    text = text.replace(`%(${name})s`, String(value));
  }
  statusRegion.textContent = text;
}

function cell(tag, content, attributes = {}) {
  const element = document.createElement(tag);
  element.className = tag === "th" ? "govuk-table__header" : "govuk-table__cell";
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  if (content instanceof Node) {
    element.append(content);
  } else {
    element.textContent = content;
  }
  return element;
}

function link(text, href, hidden) {
  const anchor = document.createElement("a");
  anchor.className = "govuk-link";
  anchor.href = href;
  anchor.textContent = text;
  if (hidden) {
    const extra = document.createElement("span");
    extra.className = "govuk-visually-hidden";
    extra.textContent = ` ${hidden}`;
    anchor.append(extra);
  }
  return anchor;
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// The same rows the server writes, for the records and links an expansion added.
function addRows(nodes, edges, labels, expandText, depth) {
  for (const node of nodes) {
    if (!nodeTable) {
      break;
    }
    const row = document.createElement("tr");
    row.className = "govuk-table__row";
    const kind = node.kind ? ` (${node.kind.replaceAll("_", " ")})` : "";
    row.append(cell("td", capitalise(node.type) + kind));
    const url = pageOf(node);
    row.append(
      cell("th", url ? link(node.label, url) : node.label, { scope: "row", "data-node": node.id }),
    );
    let action = "";
    if (node.type === "entity" && expandText) {
      action = link(expandText, `${url}/graph?depth=${depth}`, node.label);
      action.dataset.expand = node.id;
    }
    row.append(cell("td", action));
    nodeTable.append(row);
  }
  for (const edge of edges) {
    if (!edgeTable) {
      break;
    }
    const row = document.createElement("tr");
    row.className = "govuk-table__row";
    row.append(cell("td", labels.get(edge.source) || edge.source));
    row.append(cell("td", edge.relation.replaceAll("_", " ")));
    row.append(cell("td", labels.get(edge.target) || edge.target));
    const probability = edge.probability == null ? "" : edge.probability.toFixed(3);
    const numeric = cell("td", probability);
    numeric.classList.add("govuk-table__cell--numeric");
    row.append(numeric);
    edgeTable.append(row);
  }
}

function start(data) {
  if (data.start) {
    return data.start;
  }
  return `entity:${window.location.pathname.split("/")[3]}`;
}

function draw() {
  if (!container || !source || typeof window.cytoscape !== "function") {
    return;
  }
  const data = JSON.parse(source.textContent);
  if (data.nodes.length === 0) {
    return;
  }
  container.querySelector("[data-graph-fallback]")?.remove();
  document.querySelector("[data-graph-help]")?.classList.remove("govuk-!-display-none");
  preventInlineStylesheet();
  container.style.height = "32rem";
  container.style.border = "1px solid #b1b4b6";
  const labels = new Map(data.nodes.map((node) => [node.id, node.label]));
  const seenEdges = new Set(data.edges.map(edgeKey));
  const cy = window.cytoscape({
    container,
    elements: [...data.nodes.map(nodeElement), ...data.edges.map(edgeElement)],
    style: style(),
    layout: { name: "cose", animate: false, padding: 24 },
    wheelSensitivity: 0.3,
  });
  const first = start(data);
  cy.getElementById(first).addClass("start");
  const expandText = document.getElementById("graph-nodes")?.dataset.expandText;
  const depth = new URLSearchParams(window.location.search).get("depth") || "2";
  const busy = new Set();

  async function expand(id) {
    const node = cy.getElementById(id);
    const [type, key] = split(id);
    if (!API[type] || busy.has(id) || node.hasClass("expanded")) {
      return;
    }
    busy.add(id);
    try {
      const response = await fetch(`${API[type]}${encodeURIComponent(key)}/graph?depth=1`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) {
        say("failedText");
        return;
      }
      const found = await response.json();
      const room = Math.max(0, MAX_NODES - cy.nodes().length);
      const nodes = found.nodes.filter((n) => !labels.has(n.id)).slice(0, room);
      for (const n of nodes) {
        labels.set(n.id, n.label);
      }
      const edges = found.edges.filter(
        (e) => !seenEdges.has(edgeKey(e)) && labels.has(e.source) && labels.has(e.target),
      );
      for (const e of edges) {
        seenEdges.add(edgeKey(e));
      }
      node.addClass("expanded");
      if (nodes.length === 0 && edges.length === 0) {
        say("noneText");
        return;
      }
      cy.add([...nodes.map(nodeElement), ...edges.map(edgeElement)]);
      cy.layout({ name: "cose", animate: false, padding: 24 }).run();
      addRows(nodes, edges, labels, expandText, depth);
      say("addedText", { nodes: nodes.length, edges: edges.length });
    } catch {
      say("failedText");
    } finally {
      busy.delete(id);
    }
  }

  cy.on("tap", "node", (event) => {
    expand(event.target.id());
  });
  cy.on("dbltap", "node", (event) => {
    const url = event.target.data("url");
    if (url) {
      window.location.assign(url);
    }
  });
  // The tables' Expand links expand in place (the link still works without JavaScript).
  document.addEventListener("click", (event) => {
    const trigger = event.target.closest?.("a[data-expand]");
    if (!trigger || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    event.preventDefault();
    expand(trigger.dataset.expand);
  });
  window.vigilGraph = cy; // for tests and the curious: the drawing's own API
}

draw();
