package dap_test

import (
	"context"
	"io"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/dap"
	"go.uber.org/zap"
)

// session is a minimal Handler: it answers initialize and disconnect and
// refuses everything else.
type session struct{ log *zap.Logger }

func (s *session) Handle(ctx context.Context, req godap.RequestMessage, send func(godap.Message)) {
	r := req.GetRequest()
	ok := godap.Response{RequestSeq: r.Seq, Command: r.Command, Success: true}
	switch req.(type) {
	case *godap.InitializeRequest:
		send(&godap.InitializeResponse{Response: ok, Body: godap.Capabilities{SupportsConfigurationDoneRequest: true}})
		send(&godap.InitializedEvent{Event: godap.Event{Event: "initialized"}})
	case *godap.DisconnectRequest:
		send(&godap.DisconnectResponse{Response: ok})
	default:
		send(&godap.ErrorResponse{
			Response: godap.Response{RequestSeq: r.Seq, Command: r.Command, Message: "not implemented"},
			Body:     godap.ErrorResponseBody{Error: &godap.ErrorMessage{Id: 1, Format: "not implemented", ShowUser: true}},
		})
	}
}

// Close releases what the session opened; the transport calls it once.
func (s *session) Close() error { return nil }

var _ io.Closer = (*session)(nil)

func Example() {
	logger, err := dap.NewLogger("", "info") // stderr: stdout carries the protocol
	if err != nil {
		panic(err)
	}
	factory := func(l *zap.Logger) dap.Handler { return &session{log: l} }
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // an example must return; a real program cancels on a signal

	// `kdap dap`: one session over stdin/stdout.
	_ = dap.ServeStdio(ctx, factory, logger)
	// `kdap serve`: one session per TCP connection.
	_ = dap.ListenAndServe(ctx, dap.DefaultAddr, factory, logger)
}
