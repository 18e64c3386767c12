// Command stackserver serves the benchmark's operation bare and behind the full stack, on
// two loopback ports, for load generators such as wrk (see benchmarks/scripts/fullstack-wrk).
//
//	stackserver -bare 127.0.0.1:9001 -full 127.0.0.1:9002 [-sampled] [-cpuprofile cpu.out] [-layers observe,auth]
//
// It prints the API key the full stack accepts, then serves until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	stackbench "github.com/tollgate-dev/tollgate/benchmarks/stack"
)

func main() {
	bareAddr := flag.String("bare", "127.0.0.1:9001", "address of the bare server")
	fullAddr := flag.String("full", "127.0.0.1:9002", "address of the full stack")
	sampled := flag.Bool("sampled", false, "sample every trace")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	layers := flag.String("layers", "observe,auth,spool,limit",
		"the layers the -full address serves, comma-separated: observe, auth, meter (in memory), spool (meter to a spool), limit")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	sampler := sdktrace.NeverSample()
	if *sampled {
		sampler = sdktrace.AlwaysSample()
	}
	dir, err := os.MkdirTemp("", "stackserver")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l := stackbench.Layers{Sampler: sampler}
	for _, name := range strings.Split(*layers, ",") {
		switch name {
		case "observe":
			l.Observe = true
		case "auth":
			l.Auth = true
		case "meter":
			l.Meter = true
		case "spool":
			l.Meter, l.Dir = true, dir
		case "limit":
			l.Limit = true
		case "":
		default:
			log.Fatalf("unknown layer %q", name)
		}
	}
	st, err := stackbench.Compose(l)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	fmt.Println("key:", st.Key)
	servers := []*http.Server{
		{Addr: *bareAddr, Handler: stackbench.Bare(), ReadHeaderTimeout: 10 * time.Second},
		{Addr: *fullAddr, Handler: st.Handler, ReadHeaderTimeout: 10 * time.Second},
	}
	for _, s := range servers {
		go func() {
			if err := s.ListenAndServe(); err != http.ErrServerClosed {
				log.Fatal(err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	for _, s := range servers {
		_ = s.Shutdown(context.Background())
	}
}
