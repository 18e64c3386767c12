package stripeprovider_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/metering"
)

func billingUsage(t *testing.T) *metering.Store {
	t.Helper()
	s, err := metering.NewStore(metering.StoreConfig{})
	require.NoError(t, err)
	return s
}
