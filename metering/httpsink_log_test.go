package metering_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
)

func TestHTTPSinkLogsARedactedURL(t *testing.T) {
	t.Parallel()
	s, err := metering.NewHTTPSink(metering.HTTPSinkConfig{URL: "https://user:hunter2@meter.example.com/api/v1/events?token=s3cret#frag"})
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("sink", slog.Any("sink", s))
	out := buf.String()
	assert.Contains(t, out, "https://meter.example.com/api/v1/events")
	for _, secret := range []string{"user", "hunter2", "token", "s3cret", "frag"} {
		assert.NotContains(t, out, secret)
	}
}
