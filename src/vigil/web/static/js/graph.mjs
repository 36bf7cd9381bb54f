// Draws an entity's network with Cytoscape.js from the JSON the page already holds
// (#graph-data). Progressive enhancement only: the tables on the page list the same records
// and links without JavaScript. Served as a file because the console's CSP allows no inline
// script; Cytoscape draws on a canvas and sets styles through the CSSOM, which the CSP
// allows. The one thing it would be refused is a <style> element it adds to make its
// container position: relative, and it adds that only when no element has the stylesheet's
// id: so this module sets the position itself and leaves a marker with that id.
const container = document.getElementById("graph");
const source = document.getElementById("graph-data");

// Colour and shape by node type, so type is not carried by colour alone.
const LOOK = {
  entity: { color: "#1d70b8", shape: "ellipse" },
  report: { color: "#d4351c", shape: "round-rectangle" },
  subject: { color: "#4c2c92", shape: "diamond" },
  case: { color: "#00703c", shape: "hexagon" },
};

function elements(data) {
  const nodes = data.nodes.map((node) => ({
    data: {
      id: node.id,
      label: node.label,
      type: node.type,
      url: node.url || "",
    },
  }));
  const edges = data.edges.map((edge, index) => ({
    data: {
      id: `edge-${index}`,
      source: edge.source,
      target: edge.target,
      relation: edge.relation.replaceAll("_", " "),
    },
  }));
  return [...nodes, ...edges];
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

function draw() {
  if (!container || !source || typeof window.cytoscape !== "function") {
    return;
  }
  const data = JSON.parse(source.textContent);
  if (data.nodes.length === 0) {
    return;
  }
  container.querySelector("[data-graph-fallback]")?.remove();
  preventInlineStylesheet();
  container.style.height = "32rem";
  container.style.border = "1px solid #b1b4b6";
  const start = window.location.pathname.split("/")[3];
  const cy = window.cytoscape({
    container,
    elements: elements(data),
    style: style(),
    layout: { name: "cose", animate: false, padding: 24 },
    wheelSensitivity: 0.3,
  });
  cy.getElementById(`entity:${start}`).addClass("start");
  cy.on("tap", "node", (event) => {
    const url = event.target.data("url");
    if (url) {
      window.location.assign(url);
    }
  });
}

draw();
