// Progressive enhancement: a "Show" button beside each password field.
// The forms work without it; the CSP allows this file because it is served from 'self'.
for (const input of document.querySelectorAll('input[data-show-password]')) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'password-toggle';
  button.textContent = 'Show';
  button.setAttribute('aria-controls', input.id);
  button.setAttribute('aria-pressed', 'false');
  button.setAttribute('aria-label', 'Show password');
  button.addEventListener('click', () => {
    const show = input.type === 'password';
    input.type = show ? 'text' : 'password';
    button.textContent = show ? 'Hide' : 'Show';
    button.setAttribute('aria-pressed', String(show));
  });
  input.after(button);
}
// Forms are submitted as passwords, whatever the toggle shows.
for (const form of document.querySelectorAll('form')) {
  form.addEventListener('submit', () => {
    for (const input of form.querySelectorAll('input[data-show-password]')) input.type = 'password';
  });
}
