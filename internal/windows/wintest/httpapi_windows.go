package wintest

import (
	"errors"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/whobinds/whobinds/internal/testutil"
)

// RegisterURL registers url with http.sys through httpapi v2 (HttpInitialize(2.0, HTTP_INITIALIZE_SERVER only —
// adding CONFIG breaks Wine), server session, URL group, request queue, binding property, HttpAddUrlToUrlGroup)
// and keeps it registered until t's cleanup, which closes everything in reverse order.
//
// The request queue is unnamed and nobody receives from it: a request to
// url is accepted by http.sys and waits in the queue. On Windows, a process
// without administrator rights may register only URLs reserved for it
// (netsh http add urlacl); without them the test is skipped (it fails when
// WHOBINDS_REQUIRE_INTEGRATION=1). Under Wine 8 http.sys binds 0.0.0.0:PORT
// whatever host the URL names, and only http:// works.
func RegisterURL(t testing.TB, url string) {
	t.Helper()
	const (
		httpapiVersion2       = 2 // HTTPAPI_VERSION{2, 0} passed by value: Major in the low word
		initializeServer      = 1 // HTTP_INITIALIZE_SERVER
		serverBindingProperty = 7 // HttpServerBindingProperty
	)
	dll := windows.NewLazySystemDLL("httpapi.dll")
	proc := func(name string) *windows.LazyProc {
		p := dll.NewProc(name)
		if err := p.Find(); err != nil {
			testutil.Missing(t, "registering %s: httpapi.dll has no %s: %v", url, name, err)
		}
		return p
	}
	var (
		initialize      = proc("HttpInitialize")
		terminate       = proc("HttpTerminate")
		createSession   = proc("HttpCreateServerSession")
		closeSession    = proc("HttpCloseServerSession")
		createGroup     = proc("HttpCreateUrlGroup")
		closeGroup      = proc("HttpCloseUrlGroup")
		createQueue     = proc("HttpCreateRequestQueue")
		closeQueue      = proc("HttpCloseRequestQueue")
		setProperty     = proc("HttpSetUrlGroupProperty")
		addToGroup      = proc("HttpAddUrlToUrlGroup")
		removeFromGroup = proc("HttpRemoveUrlFromUrlGroup")
	)
	// call passes args (an HTTP_OPAQUE_ID takes two slots on 386) and
	// turns the returned Win32 code into an error.
	call := func(p *windows.LazyProc, args ...any) error {
		var a []uintptr
		for _, v := range args {
			switch v := v.(type) {
			case uint64:
				a = append(a, uintptr(v))
				if unsafe.Sizeof(uintptr(0)) == 4 {
					a = append(a, uintptr(v>>32))
				}
			case uintptr:
				a = append(a, v)
			default:
				t.Fatalf("wintest: RegisterURL passes %T to %s; want uint64 or uintptr", v, p.Name)
			}
		}
		if r, _, _ := p.Call(a...); r != 0 {
			return syscall.Errno(r)
		}
		return nil
	}
	// h holds everything whose address httpapi receives. The cleanups read
	// it, so it lives on the heap, where an address stays valid after its
	// conversion to uintptr.
	h := &struct {
		session, group uint64
		queue          windows.Handle
		binding        struct { // HTTP_BINDING_INFO
			Flags uint32 // HTTP_PROPERTY_FLAGS, Present = 1
			Queue windows.Handle
		}
		url *uint16
	}{}
	cleanup := func(what string, fn func() error) {
		t.Cleanup(func() {
			if err := fn(); err != nil {
				t.Errorf("unregistering %s: %s: %v", url, what, err)
			}
		})
	}

	if err := call(initialize, uintptr(httpapiVersion2), uintptr(initializeServer), uintptr(0)); err != nil {
		t.Fatalf("registering %s: HttpInitialize(2.0, HTTP_INITIALIZE_SERVER): %v", url, err)
	}
	cleanup("HttpTerminate", func() error { return call(terminate, uintptr(initializeServer), uintptr(0)) })

	if err := call(createSession, uintptr(httpapiVersion2), uintptr(unsafe.Pointer(&h.session)), uintptr(0)); err != nil {
		t.Fatalf("registering %s: HttpCreateServerSession: %v", url, err)
	}
	cleanup("HttpCloseServerSession", func() error { return call(closeSession, h.session) })

	if err := call(createGroup, h.session, uintptr(unsafe.Pointer(&h.group)), uintptr(0)); err != nil {
		t.Fatalf("registering %s: HttpCreateUrlGroup: %v", url, err)
	}
	cleanup("HttpCloseUrlGroup", func() error { return call(closeGroup, h.group) })

	if err := call(createQueue, uintptr(httpapiVersion2), uintptr(0), uintptr(0), uintptr(0), uintptr(unsafe.Pointer(&h.queue))); err != nil {
		t.Fatalf("registering %s: HttpCreateRequestQueue: %v", url, err)
	}
	cleanup("HttpCloseRequestQueue", func() error { return call(closeQueue, uintptr(h.queue)) })

	h.binding.Flags, h.binding.Queue = 1, h.queue
	if err := call(setProperty, h.group, uintptr(serverBindingProperty), uintptr(unsafe.Pointer(&h.binding)), unsafe.Sizeof(h.binding)); err != nil {
		t.Fatalf("registering %s: HttpSetUrlGroupProperty(HttpServerBindingProperty): %v", url, err)
	}

	var err error
	if h.url, err = windows.UTF16PtrFromString(url); err != nil {
		t.Fatalf("registering %q: %v", url, err)
	}
	err = call(addToGroup, h.group, uintptr(unsafe.Pointer(h.url)), uint64(0), uintptr(0))
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		testutil.Missing(t, "registering %s needs administrator rights or a URL reservation (netsh http add urlacl): %v", url, err)
	}
	if err != nil {
		t.Fatalf("registering %s: HttpAddUrlToUrlGroup: %v", url, err)
	}
	cleanup("HttpRemoveUrlFromUrlGroup", func() error {
		return call(removeFromGroup, h.group, uintptr(unsafe.Pointer(h.url)), uintptr(0))
	})
}
