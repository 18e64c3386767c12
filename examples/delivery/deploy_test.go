package main

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/observe"
)

// manifestNumbers reads the shutdown numbers of the Kubernetes base: the grace period, the
// preStop sleep and SHUTDOWN_DRAIN_DELAY.
func manifestNumbers(t *testing.T) (grace, preStop, drain time.Duration) {
	t.Helper()
	deployment, err := os.ReadFile("../../deploy/kubernetes/base/deployment.yaml")
	require.NoError(t, err)
	kustomization, err := os.ReadFile("../../deploy/kubernetes/base/kustomization.yaml")
	require.NoError(t, err)
	seconds := func(re string, doc []byte) time.Duration {
		m := regexp.MustCompile(re).FindSubmatch(doc)
		require.NotNil(t, m, "the manifest states %s", re)
		n, err := strconv.Atoi(string(m[1]))
		require.NoError(t, err)
		return time.Duration(n) * time.Second
	}
	grace = seconds(`terminationGracePeriodSeconds: (\d+)`, deployment)
	preStop = seconds(`preStop:\s+sleep:\s+seconds: (\d+)`, deployment)
	m := regexp.MustCompile(`SHUTDOWN_DRAIN_DELAY=(\S+)`).FindSubmatch(kustomization)
	require.NotNil(t, m, "the ConfigMap sets SHUTDOWN_DRAIN_DELAY")
	drain, err = time.ParseDuration(string(m[1]))
	require.NoError(t, err)
	return grace, preStop, drain
}

// TestManifestDrainArithmetic runs the example with the manifests' drain delay and checks
// what the pod's shutdown needs: readiness 503 within a second of SIGTERM, the listener open
// for the drain, usage flushed, and a clean exit well inside the grace period that remains
// after the preStop sleep, with room for observe's worst case (ShutdownTimeout for in-flight
// requests, FlushTimeout for the flush).
func TestManifestDrainArithmetic(t *testing.T) {
	t.Parallel()
	grace, preStop, drain := manifestNumbers(t)
	worst := preStop + drain + observe.DefaultShutdownTimeout + observe.DefaultFlushTimeout
	require.Less(t, worst, grace, "preStop %v + drain %v + shutdown %v + flush %v must fit the %v grace period",
		preStop, drain, observe.DefaultShutdownTimeout, observe.DefaultFlushTimeout, grace)

	rn := obsStart(t, map[string]string{"SHUTDOWN_DRAIN_DELAY": drain.String()})
	req, err := http.NewRequest(http.MethodGet, rn.base+"/v1/deliveries", nil)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", rn.key)
	resp, err := obsClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	sigterm := time.Now()
	rn.cancel()
	rn.awaitUnready(t, time.Second, "readiness turns 503 within a second")
	code, _ := obsGet(t, rn.base+"/livez")
	assert.Equal(t, http.StatusOK, code, "still serving during the drain")

	require.NoError(t, rn.stop(t, grace-preStop), "exits 0 before the kubelet's SIGKILL")
	took := time.Since(sigterm)
	assert.GreaterOrEqual(t, took, drain, "served through the whole drain delay")
	assert.Less(t, took, grace-preStop)
	flushed := false
	for _, l := range rn.out.lines(t) {
		flushed = flushed || l["msg"] == "flushing"
	}
	assert.True(t, flushed, "usage and telemetry flushed before exit")
	t.Logf("SIGTERM to exit: %v (drain %v, grace after preStop %v)", took.Round(time.Millisecond), drain, grace-preStop)
}
