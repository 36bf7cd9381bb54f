// The staff session clock: counts the identity bar's "time left" down, warns before the idle
// timeout in a modal dialog, and at the end goes to the sign-in page, which says why.
//
// Progressive enhancement only: without this file the bar keeps the time left as the server
// rendered it, and the server ends the session on its own (src/vigil/access/signin.py).
//
// The identity bar ([data-vigil-session], layouts/staff.html) carries, from
// src/vigil/access/session_pages.py:
//   data-session-idle-seconds, data-session-absolute-seconds  seconds left when rendered;
//       counted from this page's load with performance.now(), so a browser clock minutes out
//       changes nothing
//   data-session-warn-seconds  how long before the idle end to warn: 5 minutes, or a third of
//       a shorter idle timeout (WARN_BEFORE_S there; WCAG 2.2.1 asks for at least 20 s)
//   data-session-status-url    GET: seconds left, not counting as activity
//   data-session-keep-alive-url  POST (with the CSRF token): counts as activity
//   data-session-idle-url, data-session-ended-url  where to go when it has ended
//   data-session-time-left-text, data-session-warning-text  {CLDR plural category: text}
//
// Before warning and before leaving, the script asks the server how long is really left:
// the person may have been working in another tab all along. Escape closes the dialog and
// counts as "Stay signed in", as in GOV.UK's timeout warning.

const TICK_MS = 1000;
const PLACEHOLDER = "%(num)d";

const bar = document.querySelector("[data-vigil-session][data-session-idle-seconds]");

function plural(templates, num) {
  const lang = document.documentElement.lang || "en";
  const category = new Intl.PluralRules(lang).select(num);
  const text = templates[category] || templates.other || "";
  return text.replace(PLACEHOLDER, String(num));
}

function minutes(ms) {
  return Math.max(1, Math.ceil(ms / 60000));
}

function csrfToken() {
  const field = document.querySelector('#staff-sign-out input[name="csrf_token"]');
  return field ? field.value : "";
}

function start(root) {
  const data = root.dataset;
  const dialog = root.querySelector("[data-session-dialog]");
  const warning = root.querySelector("[data-session-warning]");
  const failure = root.querySelector("[data-session-error]");
  const stay = root.querySelector("[data-session-stay]");
  const timeLeft = root.querySelector("[data-session-time-left]");
  const timeLeftTexts = JSON.parse(data.sessionTimeLeftText || "{}");
  const warningTexts = JSON.parse(data.sessionWarningText || "{}");
  const warnMs = Number(data.sessionWarnSeconds) * 1000;
  let idleEnd = 0;
  let absoluteEnd = 0;
  let busy = false; // a request to the server is under way
  let leaving = false;

  function reset(seconds) {
    const now = performance.now();
    idleEnd = now + Number(seconds.idle_seconds) * 1000;
    absoluteEnd = now + Number(seconds.absolute_seconds) * 1000;
  }

  function ask(url, options) {
    // A session that has ended answers with a redirect to sign in: not followed, just seen.
    return fetch(url, {
      credentials: "same-origin",
      redirect: "manual",
      headers: { Accept: "application/json" },
      ...options,
    }).then((response) => {
      if (response.type === "opaqueredirect" || response.status === 303) {
        return null;
      }
      if (!response.ok) {
        throw new Error(`${url} answered ${response.status}`);
      }
      return response.json();
    });
  }

  function leave() {
    leaving = true;
    const byIdle = idleEnd <= absoluteEnd;
    window.location.assign(byIdle ? data.sessionIdleUrl : data.sessionEndedUrl);
  }

  function show() {
    if (failure) {
      failure.hidden = true;
    }
    render(performance.now());
    if (!dialog.open) {
      dialog.showModal(); // moves focus into the dialog (to "Stay signed in"); the page is inert
    }
  }

  function keepAlive() {
    if (busy || leaving) {
      return;
    }
    busy = true;
    const body = new URLSearchParams({ csrf_token: csrfToken() });
    ask(data.sessionKeepAliveUrl, { method: "POST", body })
      .then((seconds) => {
        busy = false;
        if (seconds === null) {
          leave();
          return;
        }
        reset(seconds);
        if (dialog.open) {
          dialog.close();
        }
        render(performance.now());
      })
      .catch(() => {
        busy = false;
        show();
        if (failure) {
          failure.hidden = false;
        }
      });
  }

  function check(then) {
    busy = true;
    ask(data.sessionStatusUrl)
      .then((seconds) => {
        busy = false;
        if (seconds === null) {
          leave();
          return;
        }
        reset(seconds);
        then();
      })
      .catch(() => {
        busy = false; // unreachable: keep counting; the server decides in the end
        then();
      });
  }

  function render(now) {
    const end = Math.min(idleEnd, absoluteEnd);
    const left = Math.max(0, end - now);
    const barText = plural(timeLeftTexts, minutes(left));
    if (timeLeft && timeLeft.textContent !== barText) {
      timeLeft.textContent = barText;
    }
    const warningText = plural(warningTexts, minutes(idleEnd - now));
    if (warning && warning.textContent !== warningText) {
      warning.textContent = warningText;
    }
  }

  function tick() {
    if (busy || leaving) {
      return;
    }
    const now = performance.now();
    render(now);
    const end = Math.min(idleEnd, absoluteEnd);
    if (now >= end) {
      check(() => {
        if (performance.now() >= Math.min(idleEnd, absoluteEnd)) {
          leave();
        } else if (dialog.open && performance.now() < idleEnd - warnMs) {
          dialog.close(); // used in another tab meanwhile
        }
      });
      return;
    }
    // Only the idle end can be put off, so only it is warned of.
    const warnNow = idleEnd <= absoluteEnd && now >= idleEnd - warnMs;
    if (warnNow && !dialog.open) {
      check(() => {
        if (performance.now() >= idleEnd - warnMs && idleEnd <= absoluteEnd) {
          show();
        } else {
          render(performance.now());
        }
      });
    }
  }

  reset({ idle_seconds: data.sessionIdleSeconds, absolute_seconds: data.sessionAbsoluteSeconds });
  stay.addEventListener("click", keepAlive);
  dialog.addEventListener("cancel", () => keepAlive()); // Escape: the dialog closes itself
  window.setInterval(tick, TICK_MS);
  tick();
}

if (
  bar &&
  "HTMLDialogElement" in window &&
  "fetch" in window &&
  "PluralRules" in Intl &&
  bar.querySelector("[data-session-dialog]")
) {
  start(bar);
}
