// Passkeys in the browser, with @simplewebauthn/browser (served from /static/vendor/). Progressive
// enhancement: the pages work without it, and show their passkey parts only where it can run.
// The CSP allows this file because it is served from 'self'; it runs no inline code.
(function () {
  'use strict';
  var webauthn = window.SimpleWebAuthnBrowser;
  if (!webauthn || !webauthn.browserSupportsWebAuthn()) return;

  /** Asks the server for a ceremony's options (a POST, with the page's CSRF token). */
  function optionsFrom(url, csrf) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      body: new URLSearchParams({ _csrf: csrf }),
    }).then(function (response) {
      if (!response.ok) throw new Error('The passkey could not be started (' + response.status + '). Reload the page.');
      return response.json();
    });
  }

  function show(element, text) {
    if (!element) return;
    element.textContent = text;
    element.hidden = text === '';
  }

  /** A cancelled prompt is no error to show; anything else is. */
  function explain(error) {
    if (error && (error.name === 'NotAllowedError' || error.name === 'AbortError')) {
      return 'The passkey was not used. Try again, or use your password.';
    }
    return (error && error.message) || 'The passkey did not work. Try again.';
  }

  /**
   * Signing in (the login page, or the second step): the form holds the CSRF token, `next`,
   * and a hidden `credential` that the answer fills before the form is sent.
   */
  function signIn(form) {
    var csrf = form.querySelector('input[name="_csrf"]').value;
    var error = form.querySelector('[data-passkey-error]');
    // The login form's "remember me" checkbox, by its id (the passkey form has its own hidden copy).
    var remember = document.getElementById('remember');
    // Once the button is pressed, an autofill request that had not started yet never starts: it
    // would cancel the button's ceremony.
    var pressed = false;
    function run(autofill) {
      return optionsFrom('/login/passkey/options', csrf)
        .then(function (optionsJSON) {
          if (autofill && pressed) return new Promise(function () {});
          // Starting a ceremony cancels the one going (the autofill request) before its own begins.
          return webauthn.startAuthentication({ optionsJSON: optionsJSON, useBrowserAutofill: autofill });
        })
        .then(function (credential) {
          form.querySelector('input[name="credential"]').value = JSON.stringify(credential);
          var keep = form.querySelector('input[name="remember"]');
          if (keep && remember) keep.value = remember.checked ? '1' : '';
          form.submit();
        });
    }
    form.hidden = false;
    form.querySelector('[data-passkey-button]').addEventListener('click', function () {
      pressed = true;
      show(error, '');
      run(false).catch(function (problem) {
        show(error, explain(problem));
      });
    });
    if (form.hasAttribute('data-passkey-autofill')) {
      webauthn.browserSupportsWebAuthnAutofill().then(function (supported) {
        // Quietly: an autofill request that is cancelled (by the button) or refused is no error.
        if (supported && !pressed) run(true).catch(function () {});
      });
    }
  }

  /** Adding a passkey: the form's own submit first makes the passkey, then sends its answer. */
  function register(form) {
    var csrf = form.querySelector('input[name="_csrf"]').value;
    var error = form.querySelector('[data-passkey-error]');
    var credential = form.querySelector('input[name="credential"]');
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      if (credential.value !== '') return;
      event.preventDefault();
      show(error, '');
      optionsFrom('/account/passkeys/options', csrf)
        .then(function (optionsJSON) {
          return webauthn.startRegistration({ optionsJSON: optionsJSON });
        })
        .then(function (answer) {
          credential.value = JSON.stringify(answer);
          form.submit();
        })
        .catch(function (problem) {
          credential.value = '';
          show(error, explain(problem));
        });
    });
  }

  document.querySelectorAll('form[data-passkey-sign-in]').forEach(signIn);
  document.querySelectorAll('form[data-passkey-register]').forEach(register);
  document.querySelectorAll('[data-passkey-unsupported]').forEach(function (note) {
    note.hidden = true;
  });
})();
