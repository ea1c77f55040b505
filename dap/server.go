package dap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	godap "github.com/google/go-dap"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Handler serves the requests of one connection; see the package
// documentation for the contract Handle must follow.
type Handler interface {
	Handle(ctx context.Context, req godap.RequestMessage, send func(godap.Message))
}

// Factory builds the Handler of one new connection, given that connection's logger.
type Factory func(logger *zap.Logger) Handler

// Error ids carried in ErrorMessage.Id of the error responses the transport
// sends on the handler's behalf.
const (
	// ErrIDInvalidMessage marks content that is not JSON or not a DAP request.
	ErrIDInvalidMessage = 1001
	// ErrIDUnsupportedRequest marks a request with an unknown command.
	ErrIDUnsupportedRequest = 1002
	// ErrIDMalformedArguments marks a request whose arguments do not decode.
	ErrIDMalformedArguments = 1003
	// ErrIDInternal marks a request whose handler panicked.
	ErrIDInternal = 1004
	// ErrIDNoResponse marks a request whose handler returned without answering.
	ErrIDNoResponse = 1005
	// ErrIDCancelled marks a request cancelled by the client.
	ErrIDCancelled = 1006
)

const (
	// queueDepth is how many decoded requests may wait for the handler, so
	// that a "cancel" request is read while an earlier request still runs.
	queueDepth = 64
	// drainTimeout bounds how long a write may block once the session ends.
	drainTimeout = 2 * time.Second
)

// conn is the state of one served connection.
type conn struct {
	rw      io.ReadWriter
	log     *zap.Logger
	handler Handler

	ctx    context.Context
	cancel context.CancelFunc

	out        chan godap.Message
	stopWriter chan struct{}
	writerDone chan struct{}
	writeErr   error // the write failure that ended the session; read after writerDone closes
	failed     bool  // writes stopped: keep consuming so senders never block

	mu      sync.Mutex
	pending map[int]*entry // requests read but not yet answered, by seq

	pool      *pool
	budgetMu  sync.Mutex
	inflight  int64         // bytes of this connection's admitted requests not yet answered
	lastAdmit int64         // the size of the message the reader admitted last
	done      bool          // the session ended: inflight went back to the pool
	freed     chan struct{} // signalled when this connection gives bytes back
}

// entry is one decoded request on its way to the handler.
type entry struct {
	req    godap.RequestMessage
	ctx    context.Context
	cancel context.CancelFunc
	size   int64 // content bytes counted against the pool until answered
}

// Serve runs one DAP session over rw until the client disconnects, the
// stream breaks or ctx is cancelled, within the default Limits. It returns
// nil for an orderly end and the framing or I/O error otherwise. When rw is
// an io.Closer it is closed before Serve returns.
func Serve(ctx context.Context, rw io.ReadWriter, factory Factory, logger *zap.Logger) error {
	return (&Server{Factory: factory, Logger: logger}).Serve(ctx, rw)
}

// Serve runs one DAP session over rw like the package's Serve, counting its
// requests against the server's limits.
func (s *Server) Serve(ctx context.Context, rw io.ReadWriter) error {
	s.init()
	return s.serve(ctx, rw, s.Logger)
}

// serve runs one session with logger.
func (s *Server) serve(ctx context.Context, rw io.ReadWriter, logger *zap.Logger) error {
	if logger == nil {
		logger = zap.NewNop()
	}
	c := &conn{
		rw:         rw,
		log:        logger,
		out:        make(chan godap.Message),
		stopWriter: make(chan struct{}),
		writerDone: make(chan struct{}),
		pending:    map[int]*entry{},
		pool:       s.pool,
		freed:      make(chan struct{}, 1),
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	defer c.cancel()
	defer c.giveBackAll()
	go c.writeLoop()
	if dl, ok := rw.(interface{ SetWriteDeadline(time.Time) error }); ok {
		// A peer that stops reading must not hold the session open forever.
		stop := context.AfterFunc(c.ctx, func() { _ = dl.SetWriteDeadline(time.Now().Add(drainTimeout)) })
		defer stop()
	}

	c.handler = c.newHandler(s.Factory)
	queue := make(chan *entry, queueDepth)
	readerDone := make(chan struct{})
	var readErr error
	go func() {
		defer close(readerDone)
		readErr = c.readLoop(queue, s.Limits.maxMessageSize())
		c.cancel()
	}()

	c.dispatchLoop(queue)
	c.cancel()
	if cl, ok := c.handler.(io.Closer); ok {
		if err := c.closeHandler(cl); err != nil {
			c.log.Warn("closing session", zap.Error(err))
		}
	}
	close(c.stopWriter)
	<-c.writerDone
	if cl, ok := rw.(io.Closer); ok {
		_ = cl.Close()
		<-readerDone
	} else {
		// A reader blocked on a non-closable stream (stdin) cannot be woken;
		// it exits at its next read.
		select {
		case <-readerDone:
		default:
		}
	}
	select {
	case <-readerDone:
		if readErr != nil {
			return readErr
		}
	default:
	}
	return c.writeErr
}

// newHandler calls factory, turning a panic into a handler that answers
// every request with that error.
func (c *conn) newHandler(factory Factory) (h Handler) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("session factory panicked", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			h = brokenHandler{fmt.Sprintf("internal error: session could not start: %v", p)}
		}
	}()
	if h = factory(c.log); h == nil {
		h = brokenHandler{"internal error: no session handler"}
	}
	return h
}

// closeHandler closes the session, recovering a panic into an error.
func (c *conn) closeHandler(cl io.Closer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("session Close panicked", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			err = fmt.Errorf("session Close panicked: %v", p)
		}
	}()
	return cl.Close()
}

// brokenHandler answers every request with one error.
type brokenHandler struct{ msg string }

func (b brokenHandler) Handle(_ context.Context, req godap.RequestMessage, send func(godap.Message)) {
	r := req.GetRequest()
	send(newErrorResponse(r.Seq, r.Command, ErrIDInternal, b.msg))
}

// send queues m for the writer; once the writer has stopped m is dropped.
func (c *conn) send(m godap.Message) {
	if m == nil {
		return
	}
	select {
	case c.out <- m:
	case <-c.writerDone:
		c.log.Debug("dropping message after the connection ended", zap.String("kind", fmt.Sprintf("%T", m)))
	}
}

// writeLoop is the only writer of the stream: it numbers and writes every
// outgoing message in the order send received them.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	seq := 0
	write := func(m godap.Message) {
		if c.failed {
			return
		}
		b, err := c.encode(m, seq+1)
		if err != nil {
			c.log.Error("cannot encode outgoing message", zap.Error(err))
			return
		}
		seq++
		if c.log.Core().Enabled(zapcore.DebugLevel) {
			c.log.Debug("send", zap.ByteString("json", b))
		}
		if err := godap.WriteBaseMessage(c.rw, b); err != nil {
			if c.ctx.Err() == nil {
				// Failing while the session winds down is expected: the
				// peer has gone. Failing before is the session's end cause.
				c.writeErr = fmt.Errorf("dap: writing message seq %d: %w", seq, err)
			}
			c.failed = true
			c.log.Info("connection write failed; ending session", zap.Error(err))
			c.cancel()
		}
	}
	for {
		select {
		case m := <-c.out:
			write(m)
		case <-c.stopWriter:
			for {
				select {
				case m := <-c.out:
					write(m)
				default:
					return
				}
			}
		}
	}
}

// encode stamps m with seq and its protocol type and marshals it. A response
// that cannot be marshalled is replaced by an error response for the same
// request, so the client is never left waiting.
func (c *conn) encode(m godap.Message, seq int) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("encoding %T panicked: %v", m, p)
		}
	}()
	switch v := m.(type) {
	case godap.ResponseMessage:
		r := v.GetResponse()
		r.Seq = seq
		if r.Type == "" {
			r.Type = "response"
		}
		b, err = json.Marshal(m)
		if err != nil {
			e := newErrorResponse(r.RequestSeq, r.Command, ErrIDInternal, fmt.Sprintf("internal error: response to '%s' cannot be encoded: %v", r.Command, err))
			e.Seq = seq
			return json.Marshal(e)
		}
		return b, nil
	case godap.EventMessage:
		e := v.GetEvent()
		e.Seq = seq
		if e.Type == "" {
			e.Type = "event"
		}
	case godap.RequestMessage:
		r := v.GetRequest()
		r.Seq = seq
		if r.Type == "" {
			r.Type = "request"
		}
	default:
		return nil, fmt.Errorf("%T is not a DAP request, response or event", m)
	}
	return json.Marshal(m)
}

// readLoop reads and decodes messages and queues requests for the
// dispatcher until the stream ends or the session stops.
func (c *conn) readLoop(queue chan<- *entry, maxMessage int64) error {
	defer close(queue)
	fr := newFrameReader(c.rw, maxMessage)
	fr.admit = c.admit
	for {
		content, err := fr.next()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				c.log.Debug("client closed the stream")
				return nil
			case c.ctx.Err() != nil:
				return nil // the stream was closed because the session ended
			case errors.Is(err, ErrFraming), errors.Is(err, ErrLimit):
				c.log.Warn("unrecoverable protocol error; closing connection", zap.Error(err))
				c.send(&godap.OutputEvent{
					Event: godap.Event{Event: "output"},
					Body:  godap.OutputEventBody{Category: "important", Output: "kdap: closing the connection: " + err.Error() + "\n"},
				})
				return err
			default:
				c.log.Info("read failed; ending session", zap.Error(err))
				return fmt.Errorf("dap: reading: %w", err)
			}
		}
		if c.log.Core().Enabled(zapcore.DebugLevel) {
			c.log.Debug("recv", zap.ByteString("json", content))
		}
		size := c.takeAdmitted()
		req, reject := c.decode(content)
		content = nil // the decoded request is all that stays in flight
		if reject != nil {
			c.giveBack(size)
			c.log.Info("rejected message", zap.String("error", reject.Message))
			c.send(reject)
			continue
		}
		if req == nil {
			c.giveBack(size)
			continue
		}
		if cr, ok := req.(*godap.CancelRequest); ok && cr.Arguments != nil && cr.Arguments.RequestId != 0 {
			c.cancelRequest(cr.Arguments.RequestId)
		}
		e := &entry{req: req, size: size}
		e.ctx, e.cancel = context.WithCancel(c.ctx)
		c.mu.Lock()
		c.pending[req.GetSeq()] = e
		c.mu.Unlock()
		select {
		case queue <- e:
		case <-c.ctx.Done():
			e.cancel()
			c.giveBack(e.size)
			return nil
		}
	}
}

// decode turns content into a request for the handler, or into the error
// response the transport sends itself; both nil means "ignore".
func (c *conn) decode(content []byte) (godap.RequestMessage, *godap.ErrorResponse) {
	var base struct {
		Seq     int    `json:"seq"`
		Type    string `json:"type"`
		Command string `json:"command"`
	}
	if err := json.Unmarshal(content, &base); err != nil {
		if !json.Valid(content) {
			return nil, newErrorResponse(0, "", ErrIDInvalidMessage, fmt.Sprintf("message content is not valid JSON: %v", err))
		}
		return nil, newErrorResponse(0, "", ErrIDInvalidMessage, fmt.Sprintf("message is not a DAP protocol message (expected an object with integer \"seq\" and string \"type\"): %v", err))
	}
	switch base.Type {
	case "request":
	case "response":
		c.log.Debug("ignoring a response from the client", zap.Int("seq", base.Seq), zap.String("command", base.Command))
		return nil, nil
	case "event":
		c.log.Info("ignoring an event sent by the client", zap.Int("seq", base.Seq))
		return nil, nil
	default:
		return nil, newErrorResponse(base.Seq, base.Command, ErrIDInvalidMessage, fmt.Sprintf("message seq %d has type %q, expected \"request\"", base.Seq, base.Type))
	}
	if base.Command == "" {
		return nil, newErrorResponse(base.Seq, "", ErrIDInvalidMessage, fmt.Sprintf("request seq %d has no \"command\"", base.Seq))
	}
	msg, err := godap.DecodeProtocolMessage(content)
	var fieldErr *godap.DecodeProtocolMessageFieldError
	switch {
	case errors.As(err, &fieldErr):
		return nil, newErrorResponse(base.Seq, base.Command, ErrIDUnsupportedRequest, fmt.Sprintf("unsupported request '%s'", base.Command))
	case err != nil:
		return nil, newErrorResponse(base.Seq, base.Command, ErrIDMalformedArguments, fmt.Sprintf("request '%s' (seq %d) has malformed arguments: %v", base.Command, base.Seq, err))
	}
	req, ok := msg.(godap.RequestMessage)
	if !ok {
		return nil, newErrorResponse(base.Seq, base.Command, ErrIDInvalidMessage, fmt.Sprintf("request '%s' decoded as %T", base.Command, msg))
	}
	return req, nil
}

// cancelRequest cancels the context of a pending request.
func (c *conn) cancelRequest(seq int) {
	c.mu.Lock()
	e := c.pending[seq]
	c.mu.Unlock()
	if e != nil {
		c.log.Debug("cancelling request", zap.Int("request_seq", seq))
		e.cancel()
	}
}

// dispatchLoop hands queued requests to the handler one at a time until the
// queue closes, the session is cancelled or a disconnect has been answered.
func (c *conn) dispatchLoop(queue <-chan *entry) {
	for {
		select {
		case <-c.ctx.Done():
			return
		case e, ok := <-queue:
			if !ok {
				return
			}
			if c.dispatch(e) {
				return
			}
		}
	}
}

// dispatch runs one request through the handler and makes sure it is
// answered; it reports whether the session should end.
func (c *conn) dispatch(e *entry) (disconnect bool) {
	r := e.req.GetRequest()
	defer func() {
		e.cancel()
		c.mu.Lock()
		delete(c.pending, r.Seq)
		c.mu.Unlock()
		c.giveBack(e.size)
		e.size = 0
	}()
	if c.ctx.Err() != nil {
		return true
	}
	if e.ctx.Err() != nil {
		c.send(newCancelledResponse(r.Seq, r.Command))
		return false
	}
	var answered atomic.Bool
	send := func(m godap.Message) {
		if resp, ok := m.(godap.ResponseMessage); ok && resp.GetResponse().RequestSeq == r.Seq {
			answered.Store(true)
		}
		c.send(m)
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				c.log.Error("request handler panicked", zap.String("command", r.Command), zap.Int("seq", r.Seq),
					zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
				if !answered.Load() {
					send(newErrorResponse(r.Seq, r.Command, ErrIDInternal, fmt.Sprintf("internal error while handling '%s': %v", r.Command, p)))
				}
			}
		}()
		c.handler.Handle(e.ctx, e.req, send)
	}()
	if !answered.Load() && c.ctx.Err() == nil {
		c.log.Error("request handler returned without a response", zap.String("command", r.Command), zap.Int("seq", r.Seq))
		if e.ctx.Err() != nil {
			send(newCancelledResponse(r.Seq, r.Command))
		} else {
			send(newErrorResponse(r.Seq, r.Command, ErrIDNoResponse, fmt.Sprintf("internal error: no response to '%s'", r.Command)))
		}
	}
	return r.Command == "disconnect"
}

// newErrorResponse builds an error response the client shows to the user.
func newErrorResponse(requestSeq int, command string, id int, text string) *godap.ErrorResponse {
	return &godap.ErrorResponse{
		Response: godap.Response{
			ProtocolMessage: godap.ProtocolMessage{Type: "response"},
			RequestSeq:      requestSeq,
			Command:         command,
			Message:         text,
		},
		Body: godap.ErrorResponseBody{Error: &godap.ErrorMessage{Id: id, Format: text, ShowUser: true}},
	}
}

// newCancelledResponse answers a cancelled request the way the
// specification asks: success false with message "cancelled".
func newCancelledResponse(requestSeq int, command string) *godap.ErrorResponse {
	e := newErrorResponse(requestSeq, command, ErrIDCancelled, "cancelled")
	e.Body.Error.ShowUser = false
	return e
}
