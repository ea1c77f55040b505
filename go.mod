module github.com/kdap/kdap

go 1.26.0

require (
	github.com/anchore/go-lzo v0.1.1
	github.com/go-delve/delve v1.27.2
	github.com/google/go-dap v0.12.0
	github.com/klauspost/compress v1.20.3
	go.uber.org/zap v1.28.0
	golang.org/x/arch v0.32.0
)

require go.uber.org/multierr v1.10.0 // indirect
