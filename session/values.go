package session

import (
	"fmt"

	godap "github.com/google/go-dap"
	"github.com/kdap/kdap/session/cexpr"
	"github.com/kdap/kdap/session/values"
)

// valueRef is a structured value whose children a variables request lists.
type valueRef struct {
	env      *values.Env
	evalName string
	v        cexpr.Value
}

// globalEnv returns the session's globals-only evaluation environment.
func (s *Session) globalEnv() (*values.Env, error) {
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	if s.genv == nil {
		s.genv = values.NewGlobalEnv(t)
	}
	return s.genv, nil
}

// frameEnv returns the evaluation environment of a DAP frame.
func (s *Session) frameEnv(frameID int) (*values.Env, error) {
	if env, ok := s.fenvs[frameID]; ok {
		return env, nil
	}
	t, err := s.target()
	if err != nil {
		return nil, err
	}
	st, i, err := s.frame(frameID)
	if err != nil {
		return nil, err
	}
	env, err := values.NewFrameEnv(t, st.frames, i)
	if err != nil {
		return nil, err
	}
	s.fenvs[frameID] = env
	return env, nil
}

// envFor returns the environment of a DAP frame, or the globals-only one
// when frameID names no frame (0 or stale).
func (s *Session) envFor(frameID int) (*values.Env, error) {
	if _, known := s.frames[frameID]; known {
		return s.frameEnv(frameID)
	}
	return s.globalEnv()
}

// variable converts a value to a DAP variable, registering a handle when it
// has children.
func (s *Session) variable(env *values.Env, name, evalName string, v cexpr.Value, note string, hex bool) godap.Variable {
	dv := godap.Variable{Name: name, EvaluateName: evalName}
	if v.Type != nil {
		dv.Type = cexpr.TypeString(v.Type)
	}
	switch {
	case note != "":
		dv.Value = "<" + note + ">"
		return dv
	case v.OptimizedOut:
		dv.Value = "<optimized out>"
		return dv
	case v.Unavailable:
		dv.Value = "<unavailable>"
		return dv
	}
	dv.Value = values.Format(env, v, hex)
	if v.HasAddr {
		dv.MemoryReference = fmt.Sprintf("%#x", v.Addr)
	}
	named, indexed := values.ChildCount(env, v)
	if named+indexed > 0 {
		dv.VariablesReference = s.newRef(&varRef{kind: refValue, val: &valueRef{env: env, evalName: evalName, v: v}})
		dv.NamedVariables, dv.IndexedVariables = named, indexed
	}
	return dv
}

// frameVars lists a frame's arguments or locals.
func (s *Session) frameVars(ref *varRef, hex bool) ([]godap.Variable, error) {
	env, err := s.frameEnv(ref.frame)
	if err != nil {
		return nil, err
	}
	args, locals, err := values.FrameVars(env)
	if err != nil {
		return nil, err
	}
	list := locals
	if ref.kind == refArguments {
		list = args
	}
	out := make([]godap.Variable, 0, len(list))
	for _, v := range list {
		if v.Err != nil {
			out = append(out, godap.Variable{Name: v.Name, EvaluateName: v.Name, Value: "<error: " + v.Err.Error() + ">"})
			continue
		}
		out = append(out, s.variable(env, v.Name, v.Name, v.Value, v.Note, hex))
	}
	return out, nil
}

// children lists a page of a structured value's children.
func (s *Session) children(v *valueRef, filter string, start, count int, hex bool) ([]godap.Variable, error) {
	named, indexed := values.ChildCount(v.env, v.v)
	if filter == "named" && named == 0 || filter == "indexed" && indexed == 0 {
		return nil, nil
	}
	kids, _, err := values.Children(v.env, v.evalName, v.v, start, count)
	if err != nil {
		return nil, err
	}
	out := make([]godap.Variable, 0, len(kids))
	for _, k := range kids {
		out = append(out, s.variable(v.env, k.Name, k.EvalName, k.Value, "", hex))
	}
	return out, nil
}

// evalResult is an evaluated expression as DAP shows it.
type evalResult struct {
	value, typ, memRef string
	ref, indexed       int
	named              int
}

// evalExpr evaluates a C expression in the frame frameID (0: globals).
func (s *Session) evalExpr(expr string, frameID int, hex bool) (evalResult, error) {
	env, err := s.envFor(frameID)
	if err != nil {
		return evalResult{}, err
	}
	v, err := cexpr.Evaluate(env, expr)
	if err != nil {
		return evalResult{}, err
	}
	dv := s.variable(env, expr, expr, v, "", hex)
	return evalResult{value: dv.Value, typ: dv.Type, memRef: dv.MemoryReference, ref: dv.VariablesReference, indexed: dv.IndexedVariables, named: dv.NamedVariables}, nil
}
