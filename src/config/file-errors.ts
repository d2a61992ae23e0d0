// Why a file named by a variable could not be read, said in words beside its code: `ENOENT (no such file or folder)`.
// The code comes from the error, never its message, which may quote what the file holds.

const WORDS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
}

/** `ENOENT (no such file or folder)`; a code with no words as it is; `unreadable` without one. */
export function readError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code === undefined) return 'unreadable'
  const words = WORDS[code]
  return words === undefined ? code : `${code} (${words})`
}
