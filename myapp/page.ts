// What myapp answers, byte for byte as sillyproxy's myapp did.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' }

/** Go's html.EscapeString, which sillyproxy's myapp used. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char as keyof typeof ESCAPES])
}

export function renderPage({ name, color, v2 }: { name: string; color: string; v2: boolean }): {
  type: string
  body: string
} {
  if (v2)
    return {
      type: 'text/html; charset=utf-8',
      body: `\n<h1>${escapeHtml(name)} (${escapeHtml(color)})</h1>\n`,
    }
  return { type: 'text/plain; charset=utf-8', body: `${color} ${name}\n` }
}
