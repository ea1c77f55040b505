// Package dap serves the Debug Adapter Protocol over one byte stream (stdio)
// or over TCP, one session per connection. It knows the protocol and nothing
// about kernels: the per-session logic is a Handler built by a Factory for
// each connection.
//
// # Handler contract
//
// Requests of one connection reach Handler.Handle one at a time, in the order
// the client sent them, so a handler needs no locking for its own state.
// Handle must send exactly one response for the request it was given before
// it returns; a handler that returns without answering gets an error response
// sent for it, and a panic inside Handle is recovered, logged with its stack
// and answered with an error response.
//
// The send function passed to Handle stays valid for the whole connection and
// is safe to call from any goroutine (for example to emit progress or output
// events from background work). Messages are written by a single writer in the
// order send is called; the writer assigns every outgoing sequence number and
// fills an empty protocol "type" ("response", "event", "request"), so handlers
// only set command, request_seq, success and the body. After the connection
// ends, send drops messages instead of blocking.
//
// The context passed to Handle is cancelled when the connection ends, when
// the server shuts down, or when the client sends a "cancel" request naming
// this request's seq. A "cancel" request is still forwarded to the handler,
// which answers it (and may cancel progress sequences it started).
//
// A Handler that also implements io.Closer is closed exactly once when its
// connection ends, after the last Handle call has returned: that is where a
// session releases the dump it opened.
//
// # What the transport answers itself
//
// Malformed input never reaches the handler. Invalid JSON, a message without
// a known type, a request with an unknown command ("unsupported request
// 'foo'") or with arguments that do not decode get an error response and the
// connection keeps going. A broken frame (bad header, stream cut inside a
// message) cannot be resynchronised: the connection is closed after an
// "output" event explaining why. After the handler has answered a
// "disconnect" request the connection is closed, as debug adapters are
// expected to do.
//
// # Limits
//
// A Server bounds what its clients can make it hold (see Limits): a
// Content-Length above MaxMessageSize (8 MiB by default) closes the
// connection before any of the content is read; the content of requests read
// but not yet answered counts against MaxInFlight (64 MiB by default) across
// all connections, and a large request that would exceed it closes its
// connection with an "output" event saying the server is busy (a small one
// from a connection with nothing else in flight is always taken); a listener
// serves at most MaxConnections (64 by default) at once and tells one more
// so before closing it. Each message's content is read into a buffer of its
// own exact size that nothing keeps once the request has been answered.
//
// Requests and responses are traced at debug level through zap; in stdio mode
// logs must go to stderr or a file (see NewLogger), never to stdout.
package dap
