package awslambda_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/awslambda"
	"github.com/tollgate-dev/tollgate/metering"
)

// BenchmarkInvoke is one HTTP API invocation that records a usage event, without and with
// the flush that makes it durable (an fsync'd spool under a temporary directory, as /tmp
// on Lambda) before the response returns. p50 and p99 are per invocation.
func BenchmarkInvoke(b *testing.B) {
	event := v2Event(1)
	for _, flush := range []bool{false, true} {
		name := map[bool]string{false: "no-flush", true: "flush-to-spool"}[flush]
		b.Run(name, func(b *testing.B) {
			meter, err := metering.New(metering.Config{Dir: b.TempDir()})
			require.NoError(b, err)
			defer meter.Close(context.Background())
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = meter.Record(r.Context(), metering.Event{Consumer: "acme", Operation: "call", Status: 200, Units: map[string]int64{"calls": 1}})
				_, _ = w.Write([]byte("ok"))
			})
			cfg := awslambda.Config{}
			if flush {
				cfg.AfterInvoke = meter.Flush
			}
			fn := awslambda.New(h, cfg)
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "r"})
			var took []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				if _, err := fn.Invoke(ctx, event); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}
