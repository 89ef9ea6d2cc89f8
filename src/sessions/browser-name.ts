import Bowser from 'bowser';

const MAX_INPUT = 512;

/**
 * A short name for the browser behind a user agent, as people recognise it:
 * "Firefox 133 on Linux", "Safari 17 on iOS". Unknown agents (scripts, curl)
 * show the start of the raw string; none at all is "Unknown browser".
 */
export function browserName(userAgent: string | null): string {
  const agent = userAgent?.trim().slice(0, MAX_INPUT) ?? '';
  if (agent === '') return 'Unknown browser';
  const parser = Bowser.getParser(agent);
  const browser = parser.getBrowser();
  if (!browser.name) return agent.length > 40 ? `${agent.slice(0, 40)}…` : agent;
  const major = browser.version?.split('.')[0];
  const os = parser.getOS();
  const osName = os.name ?? '';
  return `${browser.name}${major ? ` ${major}` : ''}${osName ? ` on ${osName}` : ''}`;
}
