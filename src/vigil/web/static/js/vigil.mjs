// Progressive enhancement only: every page works without this file.
import { initAll } from "/static/vendor/govuk/govuk-frontend.min.js";

initAll();

// File uploads with a progress bar. The form is an ordinary multipart form that works without
// JavaScript; here the same form data (CSRF token included) goes to the same address with
// XMLHttpRequest, whose upload events can drive a <progress> element. The server answers with
// the page (HTML) as usual; a JSON answer ({redirect} or {html}) is understood too.
function enhanceUploads() {
  if (!("XMLHttpRequest" in window) || !("FormData" in window) || !("DOMParser" in window)) {
    return;
  }
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-vigil-upload")) {
      return;
    }
    const input = form.querySelector('input[type="file"]');
    if (!input || !input.files || input.files.length === 0) {
      return; // nothing to upload: let the browser send the form as it is
    }
    event.preventDefault();
    const room = Number(form.dataset.filesLeft || "0");
    if (input.files.length > room) {
      const status = form.querySelector(".vigil-upload-status");
      if (status) {
        status.textContent = form.dataset.tooManyText || "";
      }
      return;
    }
    upload(form, event.submitter);
  });
}

// The form's address. Not form.action: a control named "action" (our buttons) hides it.
function target(form) {
  return new URL(form.getAttribute("action") || "", window.location.href);
}

function upload(form, submitter) {
  const data = new FormData(form);
  if (submitter && submitter.name) {
    data.append(submitter.name, submitter.value);
  }
  const status = form.querySelector(".vigil-upload-status");
  const progress = document.createElement("progress");
  progress.className = "vigil-upload-progress";
  progress.max = 100;
  progress.value = 0;
  progress.setAttribute("aria-label", form.dataset.uploadingText || "");
  if (status) {
    status.textContent = form.dataset.uploadingText || "";
    status.after(progress);
  }
  for (const button of form.querySelectorAll("button")) {
    button.disabled = true;
  }

  const request = new XMLHttpRequest();
  request.open("POST", target(form).href);
  request.setRequestHeader("Accept", "text/html, application/json;q=0.9");
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) {
      progress.value = Math.round((event.loaded / event.total) * 100);
    }
  });
  request.addEventListener("load", () => answered(form, request));
  request.addEventListener("error", () => failed(form, progress));
  request.addEventListener("abort", () => failed(form, progress));
  request.send(data);
}

function answered(form, request) {
  const type = request.getResponseHeader("Content-Type") || "";
  if (type.includes("application/json")) {
    let body = {};
    try {
      body = JSON.parse(request.responseText);
    } catch {
      body = {};
    }
    if (body.redirect) {
      window.location.assign(body.redirect);
      return;
    }
    if (body.html) {
      showPage(body.html, form);
      return;
    }
    window.location.reload();
    return;
  }
  const posted = target(form);
  const landed = new URL(request.responseURL || posted.href, window.location.href);
  if (landed.pathname !== posted.pathname) {
    window.location.assign(landed.href); // "Continue" went on to the next question
    return;
  }
  showPage(request.responseText, form);
}

// Replace the page's main content with the server's answer, as if the page had loaded.
function showPage(html, form) {
  const next = new DOMParser().parseFromString(html, "text/html");
  const main = document.querySelector("main");
  const nextMain = next.querySelector("main");
  if (!main || !nextMain) {
    window.location.assign(window.location.href);
    return;
  }
  document.title = next.title;
  main.innerHTML = nextMain.innerHTML;
  initAll({ scope: main });
  const summary = main.querySelector(".govuk-error-summary");
  if (summary) {
    return; // GOV.UK's error summary moves focus to itself
  }
  const nextForm = main.querySelector("form[data-vigil-upload]");
  const status = nextForm && nextForm.querySelector(".vigil-upload-status");
  const heading = main.querySelector("#uploaded-files");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
  if (status) {
    status.textContent = (form && form.dataset.uploadedText) || "";
  }
}

function failed(form, progress) {
  progress.remove();
  for (const button of form.querySelectorAll("button")) {
    button.disabled = false;
  }
  const status = form.querySelector(".vigil-upload-status");
  if (status) {
    status.textContent = form.dataset.failedText || "";
  }
}

enhanceUploads();
