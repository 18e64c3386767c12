module github.com/tollgate-dev/tollgate/examples

go 1.26.0

require (
	github.com/danielgtaylor/huma/v2 v2.37.2
	github.com/redis/go-redis/v9 v9.23.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.47.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.opentelemetry.io/otel/trace v1.47.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

require (
	github.com/stretchr/testify v1.12.1
	github.com/tollgate-dev/tollgate v0.0.0
	github.com/tollgate-dev/tollgate/ratelimit/redisstore v0.0.0
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/tollgate-dev/tollgate => ../

replace github.com/tollgate-dev/tollgate/ratelimit/redisstore => ../ratelimit/redisstore
