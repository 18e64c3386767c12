package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/awslambda"
	"github.com/tollgate-dev/tollgate/metering"
)

// TestLambdaServesTheSameAPI: the example's handler as a Lambda function answers an HTTP
// API event like the server, and the invocation's usage is on disk when it returns.
func TestLambdaServesTheSameAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t, t.TempDir())
	defer s.stop()
	fn := awslambda.New(s.a.handler, awslambda.Config{AfterInvoke: s.a.meter.Flush})
	event, err := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/v1/deliveries", Headers: map[string]string{"x-api-key": s.key},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", SourceIP: "198.51.100.60"}},
	})
	require.NoError(t, err)
	out, err := fn.Invoke(context.Background(), event)
	require.NoError(t, err)
	resp := out.(events.APIGatewayV2HTTPResponse)
	assert.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	assert.NotEmpty(t, resp.Headers["Ratelimit"], "the whole stack ran: %v", resp.Headers)

	require.NoError(t, s.a.meter.Sync(context.Background()))
	rows, err := s.a.meter.Usage().Usage(context.Background(), metering.UsageQuery{Consumer: demoConsumer, Window: metering.Day})
	require.NoError(t, err)
	assert.EqualValues(t, 1, metering.Total(rows)["requests"])
}
