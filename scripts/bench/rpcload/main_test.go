package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// server answers by path: the cases a JSON-RPC node may give the client.
func server() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		ok := `{"jsonrpc":"2.0","id":1,"result":"0x3e8"}`
		switch r.URL.Path {
		case "/chunked":
			_, _ = w.Write([]byte(ok[:10]))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte(ok[10:]))
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte(ok))
		case "/500":
			w.WriteHeader(500)
			_, _ = w.Write([]byte("oops"))
		case "/error":
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"x"}}`))
		case "/noresult":
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1}`))
		default:
			_, _ = w.Write([]byte(ok))
		}
	}))
}

// one connection for 200 ms after 50 ms of warm-up
func runOne(t *testing.T, base, path string, depth int, sample int64) *stats {
	t.Helper()
	u, _ := url.Parse(base)
	body := `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s",
		path, u.Host, len(body), body)
	now := time.Now()
	l := &loader{addr: u.Host, reqs: [][]byte{[]byte(req)}, depth: depth, sample: sample,
		warmEnd: now.Add(50 * time.Millisecond), end: now.Add(250 * time.Millisecond),
		deadline: 5 * time.Second}
	s := &stats{}
	l.run(0, s)
	if s.requests < 10 || int64(len(s.lat)) != s.requests {
		t.Fatalf("%s: %d requests, %d latencies", path, s.requests, len(s.lat))
	}
	return s
}

func TestAnswersCountedAndErrorsFound(t *testing.T) {
	srv := server()
	defer srv.Close()
	for _, path := range []string{"/", "/chunked", "/close"} {
		for _, depth := range []int{1, 8} {
			s := runOne(t, srv.URL, path, depth, 64)
			if s.non200+s.rpcErrors+s.connErrs != 0 {
				t.Errorf("%s depth %d: errors %+v", path, depth, s)
			}
		}
	}
	s := runOne(t, srv.URL, "/500", 1, 64)
	if s.non200 != s.requests || !strings.HasPrefix(s.firstErr, "HTTP 500: oops") {
		t.Errorf("500: %d of %d counted, %q", s.non200, s.requests, s.firstErr)
	}
	s = runOne(t, srv.URL, "/error", 4, 64) // every answer: the cheap scan finds it
	if s.rpcErrors != s.requests || !strings.Contains(s.firstErr, "-32000") {
		t.Errorf("error: %d of %d counted, %q", s.rpcErrors, s.requests, s.firstErr)
	}
	s = runOne(t, srv.URL, "/noresult", 1, 1) // only the parsed answers: here every one
	if s.rpcErrors != s.requests || !strings.Contains(s.firstErr, "without a result") {
		t.Errorf("noresult: %d of %d counted, %q", s.rpcErrors, s.requests, s.firstErr)
	}
}

func TestServerDown(t *testing.T) {
	srv := server()
	addr := srv.Listener.Addr().String()
	srv.Close()
	now := time.Now()
	l := &loader{addr: addr, reqs: [][]byte{[]byte("x")}, depth: 1, sample: 1,
		warmEnd: now, end: now.Add(50 * time.Millisecond), deadline: time.Second}
	s := &stats{}
	l.run(0, s)
	if s.requests != 0 || s.connErrs == 0 || !strings.HasPrefix(s.firstErr, "connect:") {
		t.Errorf("down: %+v", s)
	}
}
