module github.com/kdap/kdap

go 1.26.0

require (
	github.com/go-delve/delve v1.27.2 // indirect
	github.com/google/go-dap v0.12.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
	golang.org/x/arch v0.32.0 // indirect
)
