// Package schema checks that a DAP response or event carries every field the
// Debug Adapter Protocol's JSON schema marks required, with the right JSON
// type. Tests of the transport and of the session layer use it on what they
// send.
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Check validates one protocol message given as JSON. The error lists every
// missing or mistyped required field, each naming its path in the message.
func Check(msg []byte) error {
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("DAP message is not JSON: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("DAP message is a JSON %s, expected an object", jsonType(v))
	}
	var keys []string
	var what string
	switch m["type"] {
	case "response":
		command, _ := m["command"].(string)
		what = fmt.Sprintf("response to '%s'", command)
		keys = []string{"response", "response:" + command}
		if m["success"] == false {
			keys[1] = "response:!error"
		}
	case "event":
		event, _ := m["event"].(string)
		what = fmt.Sprintf("'%s' event", event)
		keys = []string{"event", "event:" + event}
	case "request":
		command, _ := m["command"].(string)
		what = fmt.Sprintf("'%s' request", command)
		keys = []string{"request"}
	default:
		return fmt.Errorf("DAP message has type %v, expected \"response\", \"event\" or \"request\"", m["type"])
	}
	var errs []error
	for _, k := range keys {
		for _, rule := range required[k] {
			path, typ, _ := strings.Cut(rule, ":")
			check(m, "", strings.Split(path, "."), typ, &errs)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s does not match the DAP schema: %w", what, errors.Join(errs...))
	}
	return nil
}

// CheckMessage marshals m (a go-dap message struct) and checks it.
func CheckMessage(m any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("DAP message %T cannot be encoded: %w", m, err)
	}
	return Check(b)
}

// check applies the rest of a rule's path to the object obj found at prefix.
func check(obj map[string]any, prefix string, path []string, typ string, errs *[]error) {
	name, each := strings.CutSuffix(path[0], "[]")
	at := name
	if prefix != "" {
		at = prefix + "." + name
	}
	v, present := obj[name]
	if len(path) == 1 {
		switch {
		case !present:
			*errs = append(*errs, fmt.Errorf("%s is missing", at))
		case typ != "" && !hasType(v, typ):
			*errs = append(*errs, fmt.Errorf("%s is a JSON %s, expected %s", at, jsonType(v), typ))
		}
		return
	}
	// An absent or mistyped parent is reported by the parent's own rule.
	if !each {
		if child, ok := v.(map[string]any); ok {
			check(child, at, path[1:], typ, errs)
		}
		return
	}
	elems, _ := v.([]any)
	for i, e := range elems {
		if child, ok := e.(map[string]any); ok {
			check(child, fmt.Sprintf("%s[%d]", at, i), path[1:], typ, errs)
		} else {
			*errs = append(*errs, fmt.Errorf("%s[%d] is a JSON %s, expected object", at, i, jsonType(e)))
		}
	}
}

// hasType reports whether v has the JSON schema type typ.
func hasType(v any, typ string) bool {
	switch typ {
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	default:
		return jsonType(v) == typ
	}
}

// jsonType names the JSON schema type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}
