// Which Node lines take listen({ reusePort }): on an older one colorproxy keeps one listening socket, since
// the option is ignored there and a second socket on the port would stop startup with EADDRINUSE.
import t from 'tap'
import { takesReusePort } from '../../src/listen/sockets.js'

t.test('22.12 and 23.1 on take reusePort; earlier lines do not', async (t) => {
  for (const version of ['22.12.0', '22.20.1', '23.1.0', '24.0.0', '26.12.1', '30.0.0'])
    t.equal(takesReusePort(version), true, version)
  for (const version of ['20.20.2', '22.11.0', '23.0.0', '18.20.8', '', 'x'])
    t.equal(takesReusePort(version), false, JSON.stringify(version))
})
