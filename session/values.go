package session

import (
	"errors"

	godap "github.com/google/go-dap"
)

// errNoValues answers requests that need DWARF-typed values while the
// session is built without them.
var errNoValues = errors.New("typed variables and expressions are not available yet in this build")

// valueRef is a structured value whose children a variables request lists.
type valueRef struct{}

// frameVars lists a frame's arguments or locals.
func (s *Session) frameVars(ref *varRef, hex bool) ([]godap.Variable, error) {
	return nil, nil
}

// children lists a page of a structured value's children.
func (s *Session) children(v *valueRef, filter string, start, count int, hex bool) ([]godap.Variable, error) {
	return nil, errNoValues
}

// evalExpr evaluates a C expression in the frame frameID (0: globals) and
// returns its text, type, memory reference and variables reference.
func (s *Session) evalExpr(expr string, frameID int, hex bool) (evalResult, error) {
	return evalResult{}, errNoValues
}

// evalResult is an evaluated expression as DAP shows it.
type evalResult struct {
	value, typ, memRef string
	ref, indexed       int
	named              int
}
