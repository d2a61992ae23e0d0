// A stand-in for Swarm's routing mesh (IPVS): a TCP front that hands each new connection to the next
// replica in rotation. Taking a replica out of rotation affects new connections only; established ones
// carry on until either side closes them, as with IPVS.
import { once } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'

export class Front {
  private rotation: { id: string; port: number }[] = []
  private turn = 0
  private readonly server: Server
  private readonly open = new Set<Socket>()
  port = 0

  /** `tls`: the replicas' TLS listener is in rotation (HTTPS_PORT), and clients speak TLS through. */
  constructor(readonly tls = false) {
    this.server = createServer((client) => this.route(client))
  }

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1')
    await once(this.server, 'listening')
    this.port = (this.server.address() as { port: number }).port
    return this.port
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`
  }

  /** Replicas that receive new connections, in order. */
  get members(): string[] {
    return this.rotation.map((member) => member.id)
  }

  add(id: string, port: number): void {
    this.rotation.push({ id, port })
  }

  remove(id: string): void {
    this.rotation = this.rotation.filter((member) => member.id !== id)
  }

  async close(): Promise<void> {
    for (const socket of this.open) socket.destroy()
    this.server.close()
    await once(this.server, 'close')
  }

  private route(client: Socket): void {
    const member = this.rotation[this.turn++ % Math.max(1, this.rotation.length)]
    if (!member) {
      // Nothing in rotation: the connection is refused, as the mesh would.
      reset(client)
      return
    }
    const backend = connect(member.port, '127.0.0.1')
    for (const socket of [client, backend]) {
      this.open.add(socket)
      socket.once('close', () => this.open.delete(socket))
    }
    client.pipe(backend).pipe(client)
    // A reset on one side is a reset on the other, so clients see what they would see.
    client.on('error', () => reset(backend))
    backend.on('error', () => reset(client))
  }
}

/**
 * Closes a connection with a reset (RST) where TCP still allows one. A socket whose end() was called
 * may have its FIN still queued behind unsent data; Node's resetAndDestroy() on it fails with EINVAL
 * and never closes the handle, and at exit the process then spins forever waiting for that handle.
 * Such a socket has already said goodbye, so it is simply destroyed.
 */
export function reset(socket: Socket): void {
  if (socket.writableEnded) socket.destroy()
  else socket.resetAndDestroy()
}
