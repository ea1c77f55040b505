package dap

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"
)

// Defaults of Limits. DAP requests are a few hundred bytes to a few KiB.
const (
	// DefaultMaxInFlight bounds the request bytes a server holds across all
	// its connections.
	DefaultMaxInFlight = 64 << 20
	// DefaultMaxConnections bounds a listener's concurrent connections.
	DefaultMaxConnections = 64
)

// smallMessage is the size up to which a connection with nothing in flight
// is always admitted, however full the pool: a well-behaved client never
// waits behind others' large messages.
const smallMessage = 64 << 10

// Limits bound the memory and connections clients can make a server hold.
// A zero field takes its default; a negative one means no limit.
type Limits struct {
	// MaxMessageSize is the largest Content-Length accepted
	// (DefaultMaxMessageSize); a larger one closes the connection.
	MaxMessageSize int64
	// MaxInFlight bounds the content bytes of requests read but not yet
	// answered, summed over all of the server's connections
	// (DefaultMaxInFlight). A request that would exceed it closes its
	// connection, unless it is small and its connection has nothing else
	// in flight, which then waits for its own earlier requests.
	MaxInFlight int64
	// MaxConnections bounds the concurrent connections ServeListener
	// serves (DefaultMaxConnections); one more is told so and closed.
	MaxConnections int
}

func (l Limits) maxMessageSize() int64 {
	switch {
	case l.MaxMessageSize == 0:
		return DefaultMaxMessageSize
	case l.MaxMessageSize < 0:
		return 1<<63 - 1
	}
	return l.MaxMessageSize
}

func (l Limits) maxInFlight() int64 {
	switch {
	case l.MaxInFlight == 0:
		return DefaultMaxInFlight
	case l.MaxInFlight < 0:
		return 1<<63 - 1
	}
	return l.MaxInFlight
}

func (l Limits) maxConnections() int {
	switch {
	case l.MaxConnections == 0:
		return DefaultMaxConnections
	case l.MaxConnections < 0:
		return int(^uint(0) >> 1)
	}
	return l.MaxConnections
}

// Server serves DAP connections, each with its own Handler, within Limits
// shared by all of them. Its zero Limits are the defaults; set the fields
// before the first Serve or ServeListener call.
type Server struct {
	// Factory builds each connection's Handler.
	Factory Factory
	// Logger receives the server's and sessions' logs; nil means none.
	Logger *zap.Logger
	// Limits bound what clients can make the server hold.
	Limits Limits

	once   sync.Once
	pool   *pool
	connMu sync.Mutex
	conns  int // connections being served by ServeListener
}

// init prepares the shared state on first use.
func (s *Server) init() {
	s.once.Do(func() {
		if s.Logger == nil {
			s.Logger = zap.NewNop()
		}
		s.pool = &pool{limit: s.Limits.maxInFlight()}
	})
}

// inFlight returns the request bytes the server holds now.
func (s *Server) inFlight() int64 {
	s.init()
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	return s.pool.used
}

// pool counts the request bytes in flight across a server's connections.
type pool struct {
	mu    sync.Mutex
	limit int64
	used  int64
}

// take reserves n bytes if they fit, or unconditionally when force is set.
func (p *pool) take(n int64, force bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !force && p.used+n > p.limit {
		return false
	}
	p.used += n
	return true
}

// give returns n reserved bytes.
func (p *pool) give(n int64) {
	p.mu.Lock()
	p.used -= n
	p.mu.Unlock()
}

// admit reserves a message's n content bytes before they are read. It is
// called by the reader only; see Limits.MaxInFlight for the policy.
func (c *conn) admit(n int64) error {
	for {
		c.budgetMu.Lock()
		if c.done {
			c.budgetMu.Unlock()
			return context.Canceled
		}
		idle := c.inflight == 0
		if c.pool.take(n, idle && n <= smallMessage) {
			c.inflight += n
			c.lastAdmit = n
			c.budgetMu.Unlock()
			return nil
		}
		c.budgetMu.Unlock()
		if n > smallMessage {
			c.pool.mu.Lock()
			used, limit := c.pool.used, c.pool.limit
			c.pool.mu.Unlock()
			return limitError{fmt.Errorf("server busy: a %d-byte message would put more than %d bytes of requests in flight across all connections (%d now)", n, limit, used)}
		}
		// A small message waits for this connection's earlier requests.
		select {
		case <-c.freed:
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
	}
}

// takeAdmitted returns the size the reader admitted last, now owned by the
// message it read.
func (c *conn) takeAdmitted() int64 {
	c.budgetMu.Lock()
	defer c.budgetMu.Unlock()
	n := c.lastAdmit
	c.lastAdmit = 0
	return n
}

// giveBack returns n bytes of an answered or dropped request to the pool.
func (c *conn) giveBack(n int64) {
	if n == 0 {
		return
	}
	c.budgetMu.Lock()
	if !c.done {
		c.inflight -= n
		c.pool.give(n)
	}
	c.budgetMu.Unlock()
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

// giveBackAll returns everything the connection still holds when its
// session ends; later giveBack and admit calls do nothing.
func (c *conn) giveBackAll() {
	c.budgetMu.Lock()
	defer c.budgetMu.Unlock()
	if !c.done {
		c.pool.give(c.inflight)
		c.inflight, c.done = 0, true
	}
}
