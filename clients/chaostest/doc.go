// Package chaostest runs clients against upstreams behind a toxiproxy, which injects
// latency and connection resets at the TCP level, the way a real network fails. It is a
// separate module so toxiproxy and its dependencies stay out of the core module.
//
//	go -C clients/chaostest test -race ./...
package chaostest
