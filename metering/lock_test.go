//go:build unix

package metering_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
)

func TestSecondMeterOnTheSameDirFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := metering.New(metering.Config{Dir: dir, Sink: newCollector()})
	require.NoError(t, err)
	_, err = metering.New(metering.Config{Dir: dir, Sink: newCollector()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in use by another Meter")
	require.NoError(t, first.Close(context.Background()))
	again, err := metering.New(metering.Config{Dir: dir, Sink: newCollector()})
	require.NoError(t, err, "Close releases the lock")
	require.NoError(t, again.Close(context.Background()))
}
