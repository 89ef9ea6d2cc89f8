import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';
import { ROOT, cleanUpProcesses, killAll, run, within } from './support/processes.js';

/**
 * The README's "Add a protected page" recipe, followed literally: its page, template and test
 * are copied out of README.md into a scratch project (the page in its own src/pages/, the rest
 * of src/ and tests/support/ linked from this one) and its test is run there by vitest. Nothing
 * is written into this project, and the app is not told about the page: it finds it.
 */

// A child vitest: its start-up and a fresh database, on a busy machine.
vi.setConfig({ testTimeout: 180_000 });
afterAll(cleanUpProcesses);

/** The code block that follows the bold file name `file` in the README. */
function block(readme: string, file: string): string {
  const heading = `**\`${file}\`**`;
  const at = readme.indexOf(heading);
  if (at < 0) throw new Error(`README.md has no block for ${file}`);
  const match = /```[a-z]*\n([\s\S]*?)\n```/.exec(readme.slice(at + heading.length));
  if (!match?.[1]) throw new Error(`README.md's ${file} has no code block after its name`);
  return `${match[1]}\n`;
}

it("the README's recipe (a page, its template and its test) works as written, with nothing else edited", async () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const files = {
    'src/pages/welcome-page.ts': block(readme, 'src/pages/welcome-page.ts'),
    'views/pages/welcome.njk': block(readme, 'views/pages/welcome.njk'),
    'tests/welcome-page.test.ts': block(readme, 'tests/welcome-page.test.ts'),
  };
  // The recipe keeps to the rules it teaches: the page says nothing about logins.
  expect(files['src/pages/welcome-page.ts']).not.toMatch(/requireLogin|isAuthenticated|currentUser/);

  const scratch = mkdtempSync(path.join(tmpdir(), 'gh-recipe-'));
  try {
    // The scratch project: the README's three files, and links to this project's code.
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(scratch, file)), { recursive: true });
      writeFileSync(path.join(scratch, file), text);
    }
    for (const entry of readdirSync(path.join(ROOT, 'src'))) {
      if (entry !== 'pages') symlinkSync(path.join(ROOT, 'src', entry), path.join(scratch, 'src', entry));
    }
    symlinkSync(path.join(ROOT, 'tests', 'support'), path.join(scratch, 'tests', 'support'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(scratch, 'node_modules'));
    writeFileSync(path.join(scratch, 'package.json'), '{ "type": "module", "private": true }\n');
    writeFileSync(
      path.join(scratch, 'vitest.config.ts'),
      "export default { test: { include: ['tests/**/*.test.ts'], pool: 'forks', testTimeout: 60_000, hookTimeout: 120_000 } };\n",
    );

    // The child vitest in a process group of its own, killed with its workers if it hangs or the test fails.
    const child = run(
      path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'),
      {
        ...process.env,
        // The app's own pages are in this project's src/pages/; the recipe's page is in the scratch one.
        GATEHOUSE_TEST_PAGES: path.join(scratch, 'src', 'pages'),
        GATEHOUSE_TEST_VIEWS: path.join(scratch, 'views'),
        FORCE_COLOR: '0',
        NO_COLOR: '1',
      },
      scratch,
      ['run', '--root', scratch, '--reporter', 'verbose'],
    );
    const { code } = await within(170_000, "the recipe's vitest exiting", child.exited).finally(() => killAll());
    const output = `${child.out.stdout}${child.out.stderr}`;
    expect(code, output).toBe(0);
    expect(output).toMatch(/greets a logged-in user by name/);
    expect(output).toMatch(/sends a visitor to log in first/);
    expect(output).toMatch(/Tests\s+2 passed \(2\)/);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
