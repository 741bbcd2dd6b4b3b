/**
 * The rehearsal report as one HTML file for a person who opens it locally: the same Markdown as
 * rehearsal-report.md, with Mermaid inlined so the charts draw offline, with nothing fetched.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Marked } from 'marked';

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Mermaid's browser bundle from the installed package (a dependency, so it is always there). */
export function mermaidBundle(): string {
  return readFileSync(createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js'), 'utf8');
}

export function reportHtml(markdown: string, title: string): string {
  // ```mermaid blocks become <pre class="mermaid">, which mermaid.run() replaces by the drawn SVG.
  const marked = new Marked({
    renderer: {
      code({ text, lang }) {
        return lang === 'mermaid' ? `<pre class="mermaid">${escapeHtml(text)}</pre>\n` : false;
      },
    },
  });
  const body = marked.parse(markdown, { async: false });
  // A literal "</script>" inside the bundle would end the script element early.
  const script = mermaidBundle().replace(/<\/script/gi, '<\\/script');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left; }
pre.mermaid { background: #fff; }
</style>
</head>
<body>
${body}
<script>${script}</script>
<script>mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' }); mermaid.run({ querySelector: 'pre.mermaid' });</script>
</body>
</html>
`;
}
