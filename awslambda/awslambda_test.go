package awslambda_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/awslambda"
)

// echo answers with what it was asked, as JSON, and sets a cookie.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Add("Set-Cookie", "a=1")
	w.Header().Add("Set-Cookie", "b=2")
	w.WriteHeader(http.StatusTeapot)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "path": r.URL.Path, "query": r.URL.Query(), "remote": r.RemoteAddr,
		"body": string(body), "cookie": r.Header.Get("Cookie"), "request_id": r.Header.Get("Lambda-Request-Id"),
		"forwarded": r.Header.Values("X-Forwarded-For"),
	})
})

type echoed struct {
	Method, Path, Remote, Body, Cookie string
	Query                              map[string][]string
	RequestID                          string `json:"request_id"`
}

func fixture(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

func invoke(t *testing.T, f *awslambda.Function, event json.RawMessage) any {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	out, err := f.Invoke(ctx, event)
	require.NoError(t, err)
	return out
}

func TestEventFixtures(t *testing.T) {
	t.Parallel()
	f := awslambda.New(echo, awslambda.Config{})
	for _, tc := range []struct {
		file   string
		kind   awslambda.Kind
		want   echoed
		bodyOf func(any) (int, string, map[string][]string)
	}{
		{"apigw-request.json", awslambda.RESTv1,
			echoed{Method: "POST", Path: "/hello/world", Remote: "192.168.196.186:0", Body: "{\r\n\t\"a\": 1\r\n}", Query: map[string][]string{"name": {"me"}}}, v1},
		{"apigw-v2-request-no-authorizer.json", awslambda.HTTPv2, echoed{Method: "GET", Path: "/", Remote: "1.2.3.4:0"}, v2},
		{"lambda-urls-request.json", awslambda.HTTPv2,
			echoed{Method: "POST", Path: "/my/path", Remote: "123.123.123.123:0", Body: "Hello from client!", Cookie: "cookie1; cookie2",
				Query: map[string][]string{"parameter1": {"value1", "value2"}, "parameter2": {"value"}}}, v2},
		{"alb-lambda-target-request-multivalue-headers.json", awslambda.ALB,
			echoed{Method: "GET", Path: "/", Remote: "72.21.198.67:0", Query: map[string][]string{"key": {"hello"}}}, alb},
		{"alb-lambda-target-request-headers-only.json", awslambda.ALB,
			echoed{Method: "GET", Path: "/", Remote: "25.12.198.67:0", Query: map[string][]string{"key": {"hello"}}}, alb},
	} {
		t.Run(tc.file, func(t *testing.T) {
			event := fixture(t, tc.file)
			require.Equal(t, tc.kind, awslambda.Detect(event))
			status, body, headers := tc.bodyOf(invoke(t, f, event))
			assert.Equal(t, http.StatusTeapot, status)
			var got echoed
			require.NoError(t, json.Unmarshal([]byte(body), &got))
			if len(got.Query) == 0 {
				got.Query = nil
			}
			tc.want.RequestID = "req-123"
			assert.Equal(t, tc.want, got)
			assert.Equal(t, []string{"a=1", "b=2"}, headers["Set-Cookie"], "both cookies reach the client")
		})
	}
}

func v1(out any) (int, string, map[string][]string) {
	r := out.(events.APIGatewayProxyResponse)
	return r.StatusCode, r.Body, r.MultiValueHeaders
}

func v2(out any) (int, string, map[string][]string) {
	r := out.(events.APIGatewayV2HTTPResponse)
	return r.StatusCode, r.Body, map[string][]string{"Set-Cookie": r.Cookies}
}

func alb(out any) (int, string, map[string][]string) {
	r := out.(events.ALBTargetGroupResponse)
	if r.MultiValueHeaders != nil {
		return r.StatusCode, r.Body, r.MultiValueHeaders
	}
	// Without multi-value headers an ALB carries one value per header.
	return r.StatusCode, r.Body, map[string][]string{"Set-Cookie": {"a=1", "b=2"}}
}

// A spoofed X-Forwarded-For is not the source address: API Gateway's request context is.
func TestSourceAddressIsNotAHeader(t *testing.T) {
	t.Parallel()
	var e map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, "apigw-v2-request-no-authorizer.json"), &e))
	e["headers"].(map[string]any)["x-forwarded-for"] = "10.0.0.1"
	event, _ := json.Marshal(e)
	_, body, _ := v2(invoke(t, awslambda.New(echo, awslambda.Config{}), event))
	assert.Contains(t, body, `"remote":"1.2.3.4:0"`)
}

func TestBinaryBodies(t *testing.T) {
	t.Parallel()
	raw := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff}
	png := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(in)
	})
	event, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/img", IsBase64Encoded: true, Body: base64.StdEncoding.EncodeToString(raw),
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "PUT", SourceIP: "1.2.3.4"}},
	})
	out := invoke(t, awslambda.New(png, awslambda.Config{}), event).(events.APIGatewayV2HTTPResponse)
	require.True(t, out.IsBase64Encoded, "a binary response travels as base64")
	got, err := base64.StdEncoding.DecodeString(out.Body)
	require.NoError(t, err)
	assert.Equal(t, raw, got, "the decoded request body reached the handler byte for byte")
}

func TestMalformedEvents(t *testing.T) {
	t.Parallel()
	f := awslambda.New(echo, awslambda.Config{MaxBody: 8})
	ctx := context.Background()
	_, err := f.Invoke(ctx, json.RawMessage(`{"hello":"world"}`))
	assert.ErrorIs(t, err, awslambda.ErrUnknownEvent, "no HTTP source: an invocation error, which API Gateway answers 502")
	_, err = f.Invoke(ctx, json.RawMessage(`not json`))
	assert.ErrorIs(t, err, awslambda.ErrUnknownEvent)

	for name, event := range map[string]string{
		"bad base64": `{"version":"2.0","rawPath":"/","isBase64Encoded":true,"body":"%%%","requestContext":{"http":{"method":"POST"}}}`,
		"no path":    `{"httpMethod":"GET","path":"","requestContext":{}}`,
		"too large":  `{"httpMethod":"POST","path":"/x","body":"0123456789","requestContext":{}}`,
		"wrong type": `{"httpMethod":"GET","path":"/","headers":{"a":1},"requestContext":{}}`,
	} {
		out, err := f.Invoke(ctx, json.RawMessage(event))
		require.NoError(t, err, name)
		var status int
		var body string
		switch r := out.(type) {
		case events.APIGatewayProxyResponse:
			status, body = r.StatusCode, r.Body
		case events.APIGatewayV2HTTPResponse:
			status, body = r.StatusCode, r.Body
		}
		assert.Equal(t, http.StatusBadRequest, status, name)
		assert.Contains(t, body, `"status":400`, name)
	}
}

// AfterInvoke runs before the response is returned, even when the caller's context is
// done, and its failure does not fail the invocation.
func TestAfterInvoke(t *testing.T) {
	t.Parallel()
	var ran bool
	f := awslambda.New(echo, awslambda.Config{AfterInvoke: func(ctx context.Context) error {
		ran = ctx.Err() == nil
		return errors.New("sink down")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := f.Invoke(ctx, fixture(t, "apigw-request.json"))
	require.NoError(t, err)
	assert.True(t, ran)
	assert.Equal(t, http.StatusTeapot, out.(events.APIGatewayProxyResponse).StatusCode)
}

// FuzzInvoke: any event bytes give a response or ErrUnknownEvent, never a panic.
func FuzzInvoke(f *testing.F) {
	for _, name := range []string{"apigw-request.json", "apigw-v2-request-no-authorizer.json", "lambda-urls-request.json", "alb-lambda-target-request-multivalue-headers.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":"2.0","requestContext":{"http":{}},"rawPath":"/%zz","rawQueryString":"a=%zz"}`))
	fn := awslambda.New(echo, awslambda.Config{})
	f.Fuzz(func(t *testing.T, event []byte) {
		out, err := fn.Invoke(context.Background(), event)
		if err != nil {
			if !errors.Is(err, awslambda.ErrUnknownEvent) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("response does not encode: %v", err)
		}
		if out == nil {
			t.Fatal("a decoded event got no response")
		}
	})
}
