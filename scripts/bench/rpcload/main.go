// Command rpcload is a closed-loop HTTP/1.1 load generator for JSON-RPC servers, in the
// manner of wrk or hey, cheap enough in CPU that the server stays the bottleneck on a
// small machine (scripts/bench/jsonrpc.py uses it for both nodes it compares).
//
// N keep-alive connections (raw net.Conn, one goroutine each, requests written as
// ready-made bytes, answers read with net/http's response parser) each keep -pipeline
// requests in flight, cycling through the JSON-RPC bodies of -bodies (one body a line)
// or the single -body. They run -warmup seconds uncounted, then -seconds counted; then
// each connection stops sending and reads what it still has in flight.
//
// Output on stdout: the line "start" when the counted window begins, "stop" when the
// last connection is done (so that a caller can read the server's CPU time over exactly
// that window), then one JSON object: requests, seconds, rps, latency p50/p99/max (ms),
// errors (non-200, a JSON-RPC "error" in an answer, a broken connection), the first
// error seen, and the client's own CPU seconds (user + system) over the window.
//
// Errors are checked cheaply: every answer's status; every answer scanned for the
// bytes `"error"` (a hit is confirmed by parsing it); the first answer of each
// connection and every -sample'th are parsed in full and must hold a "result".
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type stats struct {
	requests  int64
	non200    int64
	rpcErrors int64
	connErrs  int64
	lat       []int64 // ns, counted answers
	firstErr  string
}

type result struct {
	Requests    int64   `json:"requests"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	Errors      int64   `json:"errors"`
	Non200      int64   `json:"non200"`
	RPCErrors   int64   `json:"rpc_errors"`
	ConnErrors  int64   `json:"conn_errors"`
	FirstError  string  `json:"first_error,omitempty"`
	ClientCPU   float64 `json:"client_cpu_s"`
	Connections int     `json:"connections"`
	Pipeline    int     `json:"pipeline"`
	Procs       int     `json:"procs"`
}

type rpcAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// checkBody: "" when body is a JSON-RPC answer with a result and no error.
func checkBody(body []byte, full bool) string {
	if !full && !bytes.Contains(body, []byte(`"error"`)) {
		return ""
	}
	var a rpcAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return "not a JSON-RPC answer: " + clip(body)
	}
	if len(a.Error) > 0 && string(a.Error) != "null" {
		return "JSON-RPC error: " + clip(a.Error)
	}
	if len(a.Result) == 0 {
		return "JSON-RPC answer without a result: " + clip(body)
	}
	return ""
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

type loader struct {
	addr     string
	reqs     [][]byte // ready-made HTTP requests
	depth    int
	sample   int64
	warmEnd  time.Time
	end      time.Time
	deadline time.Duration
}

func (l *loader) note(s *stats, kind *int64, msg string) {
	*kind++
	if s.firstErr == "" {
		s.firstErr = msg
	}
}

// run is one connection's loop, from body i on.
func (l *loader) run(i int, s *stats) {
	next := i
	var n int64
	sent := make([]time.Time, 0, l.depth) // send times of the requests in flight, FIFO
	var conn net.Conn
	var br *bufio.Reader
	var out []byte
	first := true
	var resp answer
	for time.Now().Before(l.end) {
		if conn == nil {
			c, err := net.DialTimeout("tcp", l.addr, 10*time.Second)
			if err != nil {
				l.note(s, &s.connErrs, "connect: "+err.Error())
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
			}
			// one deadline for the whole run (one a request costs timer work): an
			// answer may take up to -timeout past the end
			_ = c.SetDeadline(l.end.Add(l.deadline))
			conn, br, sent = c, bufio.NewReaderSize(c, 64<<10), sent[:0]
		}
		// fill the pipeline
		out = out[:0]
		now := time.Now()
		for len(sent) < l.depth && now.Before(l.end) {
			out = append(out, l.reqs[next%len(l.reqs)]...)
			next++
			sent = append(sent, now)
		}
		if len(out) > 0 {
			if _, err := conn.Write(out); err != nil {
				l.note(s, &s.connErrs, "write: "+err.Error())
				conn.Close()
				conn = nil
				continue
			}
		}
		if len(sent) == 0 {
			break
		}
		err := resp.read(br)
		done := time.Now()
		if err != nil {
			l.note(s, &s.connErrs, "read: "+err.Error())
			conn.Close()
			conn = nil
			continue
		}
		lat := done.Sub(sent[0])
		sent = sent[1:]
		if done.After(l.warmEnd) {
			s.requests++
			s.lat = append(s.lat, int64(lat))
			if resp.status != http.StatusOK {
				l.note(s, &s.non200, fmt.Sprintf("HTTP %d: %s", resp.status, clip(resp.body)))
			} else if msg := checkBody(resp.body, first || n%l.sample == 0); msg != "" {
				l.note(s, &s.rpcErrors, msg)
			}
			n++
			first = false
		}
		if resp.close {
			conn.Close()
			conn = nil
		}
	}
	// drain what is still in flight after the end (counted: it was sent in the window)
	for conn != nil && len(sent) > 0 {
		if err := resp.read(br); err != nil {
			l.note(s, &s.connErrs, "read: "+err.Error())
			break
		}
		s.requests++
		s.lat = append(s.lat, int64(time.Since(sent[0])))
		sent = sent[1:]
		if resp.status != http.StatusOK {
			l.note(s, &s.non200, fmt.Sprintf("HTTP %d: %s", resp.status, clip(resp.body)))
		} else if msg := checkBody(resp.body, false); msg != "" {
			l.note(s, &s.rpcErrors, msg)
		}
	}
	if conn != nil {
		conn.Close()
	}
}

// answer is one HTTP/1.1 response read off a connection; body is reused between reads.
type answer struct {
	status int
	close  bool
	body   []byte
}

var errBadResponse = errors.New("malformed HTTP response")

// read parses one response (status line, headers, a Content-Length or chunked body)
// from br without net/http's allocations: the client's CPU per request is the point.
func (a *answer) read(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return fmt.Errorf("%w: %q", errBadResponse, clip(line))
	}
	a.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return fmt.Errorf("%w: %q", errBadResponse, clip(line))
	}
	a.close = line[7] == '0' // HTTP/1.0 closes unless told otherwise
	length, chunked := -1, false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		h := bytes.TrimRight(line, "\r\n")
		if len(h) == 0 {
			break
		}
		colon := bytes.IndexByte(h, ':')
		if colon < 0 {
			return fmt.Errorf("%w: header %q", errBadResponse, clip(h))
		}
		name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return fmt.Errorf("%w: Content-Length %q", errBadResponse, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			v := bytes.ToLower(value)
			if bytes.Contains(v, []byte("close")) {
				a.close = true
			} else if bytes.Contains(v, []byte("keep-alive")) {
				a.close = false
			}
		}
	}
	a.body = a.body[:0]
	switch {
	case chunked:
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return err
			}
			size := bytes.TrimSpace(line)
			if i := bytes.IndexByte(size, ';'); i >= 0 {
				size = size[:i]
			}
			n, err := strconv.ParseInt(string(size), 16, 32)
			if err != nil || n < 0 {
				return fmt.Errorf("%w: chunk size %q", errBadResponse, clip(line))
			}
			if n == 0 { // trailers, then the blank line
				for {
					line, err = br.ReadSlice('\n')
					if err != nil {
						return err
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						return nil
					}
				}
			}
			if err = a.readN(br, int(n)); err != nil {
				return err
			}
			if _, err = br.Discard(2); err != nil { // CRLF
				return err
			}
		}
	case length >= 0:
		return a.readN(br, length)
	default: // the body runs to the end of the connection
		a.close = true
		b, err := io.ReadAll(br)
		a.body = append(a.body, b...)
		return err
	}
}

func (a *answer) readN(br *bufio.Reader, n int) error {
	start := len(a.body)
	if cap(a.body)-start < n {
		grown := make([]byte, start, start+n)
		copy(grown, a.body)
		a.body = grown
	}
	a.body = a.body[:start+n]
	_, err := io.ReadFull(br, a.body[start:])
	return err
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func readBodies(bodyFlag, path string) ([][]byte, error) {
	var lines []string
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		lines = strings.Split(string(raw), "\n")
	} else {
		lines = []string{bodyFlag}
	}
	var out [][]byte
	for _, x := range lines {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		if !json.Valid([]byte(x)) {
			return nil, fmt.Errorf("not JSON: %s", clip([]byte(x)))
		}
		out = append(out, []byte(x))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no request body (-body or -bodies)")
	}
	return out, nil
}

func pct(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i]) / 1e6
}

func main() {
	target := flag.String("url", "", "the server, e.g. http://127.0.0.1:8545/")
	conns := flag.Int("c", 16, "keep-alive connections")
	depth := flag.Int("pipeline", 1, "requests in flight on each connection (HTTP/1.1 pipelining above 1)")
	seconds := flag.Float64("seconds", 10, "counted seconds")
	warmup := flag.Float64("warmup", 1, "seconds of load before the count starts")
	body := flag.String("body", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`, "the JSON-RPC body")
	bodies := flag.String("bodies", "", "a file of JSON-RPC bodies, one a line, sent in turn (in place of -body)")
	sample := flag.Int64("sample", 64, "parse every n-th answer of a connection in full")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: Go's default)")
	timeout := flag.Duration("timeout", 60*time.Second, "how long past the end to wait for the last answers")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	fail := func(msg string) {
		fmt.Fprintln(os.Stderr, "rpcload:", msg)
		os.Exit(2)
	}
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fail("-url must be an http:// URL")
	}
	if *conns < 1 || *depth < 1 || *sample < 1 || *seconds <= 0 {
		fail("-c, -pipeline and -sample must be at least 1, -seconds above 0")
	}
	bs, err := readBodies(*body, *bodies)
	if err != nil {
		fail(err.Error())
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	path := u.RequestURI()
	l := &loader{addr: addr, depth: *depth, sample: *sample, deadline: *timeout}
	for _, b := range bs {
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
			"Content-Length: %d\r\n\r\n", path, u.Host, len(b))
		l.reqs = append(l.reqs, append([]byte(head), b...))
	}
	t0 := time.Now()
	l.warmEnd = t0.Add(time.Duration(*warmup * float64(time.Second)))
	l.end = l.warmEnd.Add(time.Duration(*seconds * float64(time.Second)))
	all := make([]*stats, *conns)
	var wg sync.WaitGroup
	for i := range all {
		all[i] = &stats{lat: make([]int64, 0, 4096)}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// connection i starts i/conns of the way into the bodies: with many
			// distinct bodies no two connections ask the same one close together
			l.run(i*len(l.reqs) / *conns, all[i])
		}(i)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex // out and cpu0, between the timer and main
	var cpu0 float64
	begin := func() {
		mu.Lock()
		defer mu.Unlock()
		cpu0 = cpuSeconds()
		fmt.Fprintln(out, "start")
		out.Flush()
	}
	startTimer := time.AfterFunc(time.Until(l.warmEnd), begin)
	wg.Wait()
	stopped := time.Now()
	if startTimer.Stop() { // ended before the window began (cannot with seconds > 0)
		begin()
	}
	mu.Lock()
	defer mu.Unlock()
	cpu := cpuSeconds() - cpu0
	fmt.Fprintln(out, "stop")
	out.Flush()

	r := result{Connections: *conns, Pipeline: *depth, Procs: runtime.GOMAXPROCS(0), ClientCPU: cpu}
	var lat []int64
	for _, s := range all {
		r.Requests += s.requests
		r.Non200 += s.non200
		r.RPCErrors += s.rpcErrors
		r.ConnErrors += s.connErrs
		if r.FirstError == "" {
			r.FirstError = s.firstErr
		}
		lat = append(lat, s.lat...)
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	r.Errors = r.Non200 + r.RPCErrors + r.ConnErrors
	r.Seconds = stopped.Sub(l.warmEnd).Seconds()
	if r.Seconds > 0 {
		r.RPS = float64(r.Requests) / r.Seconds
	}
	r.P50ms, r.P99ms = pct(lat, 0.50), pct(lat, 0.99)
	if len(lat) > 0 {
		r.MaxMs = float64(lat[len(lat)-1]) / 1e6
	}
	enc, _ := json.Marshal(r)
	fmt.Fprintln(out, string(enc))
	out.Flush()
}
