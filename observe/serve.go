package observe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Hardened server defaults that Serve fills in where the server leaves them zero. net/http's
// own zero values mean "no limit", which lets a slow client hold a connection forever
// (Slowloris) or send a megabyte of headers.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// Serve listens on srv.Addr (":http" when empty) and serves until ctx is cancelled, then
// shuts down gracefully; see [Observer.ServeListener].
func (o *Observer) Serve(ctx context.Context, srv *http.Server) error {
	addr := srv.Addr
	if addr == "" {
		addr = ":http"
		if srv.TLSConfig != nil {
			addr = ":https"
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("observe: listen: %w", err)
	}
	return o.ServeListener(ctx, srv, ln)
}

// ServeListener serves srv on ln (TLS when srv.TLSConfig is set) until ctx is
// cancelled, then shuts down in this order, logging each step:
//
//  1. readiness turns 503 and keep-alives stop, so load balancers and clients move away;
//  2. it waits DrainDelay while still serving, for the 503 to be noticed;
//  3. http.Server.Shutdown closes the listener and waits up to ShutdownTimeout for
//     in-flight requests, then closes what remains;
//  4. [Observer.Shutdown] runs the OnShutdown hooks and flushes telemetry within
//     FlushTimeout.
//
// With the defaults that is at most 25 s, inside Kubernetes' 30 s grace period. It returns
// nil after a clean shutdown, and the server's error if it stopped for another reason (the
// hooks and flush still run). Zero timeouts and header limits of srv are replaced by the
// Default* values and a nil ErrorLog by the Observer's logger; srv is modified.
func (o *Observer) ServeListener(ctx context.Context, srv *http.Server, ln net.Listener) error {
	harden(srv)
	if srv.ErrorLog == nil {
		srv.ErrorLog = slog.NewLogLogger(o.logh, slog.LevelWarn)
	}
	o.logger.InfoContext(ctx, "serving", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			// A TLSConfig without certificates fails here rather than serving plaintext.
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()

	var serveErr error
	select {
	case err := <-served:
		// The server stopped on its own (a listener failure): nothing to drain.
		serveErr = err
	case <-ctx.Done():
		serveErr = o.drain(context.WithoutCancel(ctx), srv, served)
	}
	o.logger.InfoContext(ctx, "flushing")
	flushErr := o.Shutdown(context.WithoutCancel(ctx))
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, flushErr)
}

// drain runs steps 1 to 3 of the shutdown sequence.
func (o *Observer) drain(ctx context.Context, srv *http.Server, served <-chan error) error {
	o.draining.Store(true)
	srv.SetKeepAlivesEnabled(false)
	o.logger.InfoContext(ctx, "draining", "delay", o.cfg.DrainDelay.String())
	if d := o.cfg.DrainDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case err := <-served:
			t.Stop()
			return err
		}
	}
	o.logger.InfoContext(ctx, "shutting down", "timeout", o.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(ctx, o.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// Requests still running past the deadline lose their connections.
		err = errors.Join(fmt.Errorf("observe: shutdown: %w", err), srv.Close())
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

func harden(srv *http.Server) {
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if srv.ReadTimeout == 0 {
		srv.ReadTimeout = DefaultReadTimeout
	}
	if srv.IdleTimeout == 0 {
		srv.IdleTimeout = DefaultIdleTimeout
	}
	if srv.MaxHeaderBytes == 0 {
		srv.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
}
