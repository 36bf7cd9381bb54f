// Security keys (WebAuthn) for the staff console. The pages say that JavaScript is needed:
// the browser's navigator.credentials API is the only way to talk to a key. Each form marked
// data-webauthn="register" or "authenticate" is taken over: its options come as JSON from
// data-options-url, the key's answer goes as JSON to data-verify-url, and the CSRF token of
// the form travels in the X-CSRF-Token header. The server's answer is {redirect} or {error}.

function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes.buffer;
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function withBuffers(list) {
  return (list || []).map((item) => ({ ...item, id: fromBase64url(item.id) }));
}

function creationOptions(json) {
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: withBuffers(json.excludeCredentials),
  };
}

function requestOptions(json) {
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    allowCredentials: withBuffers(json.allowCredentials),
  };
}

function credentialJSON(credential) {
  const response = credential.response;
  const out = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: { clientDataJSON: toBase64url(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    out.response.attestationObject = toBase64url(response.attestationObject);
    out.response.transports =
      typeof response.getTransports === "function" ? response.getTransports() : [];
  } else {
    out.response.authenticatorData = toBase64url(response.authenticatorData);
    out.response.signature = toBase64url(response.signature);
    if (response.userHandle) {
      out.response.userHandle = toBase64url(response.userHandle);
    }
  }
  return out;
}

async function post(url, token, body) {
  const answer = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await answer.json();
  } catch {
    data = {};
  }
  return data;
}

function showError(form, text) {
  const status = form.querySelector("[data-webauthn-status]");
  if (status) {
    status.textContent = text;
    status.hidden = false;
    status.setAttribute("tabindex", "-1");
    status.focus();
  }
}

async function run(form) {
  const kind = form.dataset.webauthn;
  const token = form.querySelector('input[name="csrf_token"]').value;
  const nameInput = form.querySelector('input[name="name"]');
  const extra = {};
  if (nameInput) {
    extra.name = nameInput.value;
  }
  if (form.dataset.next) {
    extra.next = form.dataset.next;
  }
  const failed = form.dataset.failedText || "";
  const options = await post(form.dataset.optionsUrl, token, extra);
  if (!options.options) {
    if (options.error) {
      showError(form, options.error);
    } else if (options.redirect) {
      window.location.assign(options.redirect);
    }
    return;
  }
  let credential;
  try {
    credential =
      kind === "register"
        ? await navigator.credentials.create({ publicKey: creationOptions(options.options) })
        : await navigator.credentials.get({ publicKey: requestOptions(options.options) });
  } catch {
    showError(form, failed);
    return;
  }
  if (!credential) {
    showError(form, failed);
    return;
  }
  const verdict = await post(form.dataset.verifyUrl, token, {
    ...extra,
    credential: credentialJSON(credential),
  });
  if (verdict.redirect && !verdict.error) {
    window.location.assign(verdict.redirect);
    return;
  }
  showError(form, verdict.error || failed);
}

function enhance() {
  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
    return; // the page says what is needed; the form's plain submission explains again
  }
  for (const form of document.querySelectorAll("form[data-webauthn]")) {
    let busy = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (busy) {
        return;
      }
      busy = true;
      run(form)
        .catch(() => showError(form, form.dataset.failedText || ""))
        .finally(() => {
          busy = false;
        });
    });
  }
}

enhance();
