// Package containers names the containers that the cgroup package
// recognises, from the metadata container engines keep on disk, and
// recognises the port forwarders (docker-proxy, rootlessport, slirp4netns,
// pasta) that hold host ports on a container's behalf.
//
// Everything reads files below a root directory that is a parameter ("/"
// on a live system), so fixture trees under testdata/ stand in for a host.
// The formats read are:
//
//   - docker: DATA-ROOT/containers/ID/config.v2.json (name, image, state,
//     networks, published ports) and hostconfig.json next to it (restart
//     policy, network mode); DATA-ROOT is /var/lib/docker unless
//     /etc/docker/daemon.json says otherwise.
//   - containers/storage, shared by podman, cri-o and buildah:
//     STORAGE/DRIVER-containers/containers.json (and
//     volatile-containers.json) for names and the "metadata" string podman
//     and cri-o store there, and STORAGE/DRIVER-images/images.json for
//     image names. STORAGE is /var/lib/containers/storage for root and
//     ~/.local/share/containers/storage for rootless podman.
//
// containerd's and podman's own databases (bolt, sqlite) are not read.
package containers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/whobinds/whobinds/internal/model"
)

// ErrUnsupportedRuntime is returned by Store.ByID for runtimes whose
// metadata this package does not read (containerd, lxc).
var ErrUnsupportedRuntime = errors.New("container metadata for this runtime is not read")

// Info is what an engine's metadata says about a container.
type Info struct {
	// Runtime is "docker", "podman" or "cri-o".
	Runtime string
	// ID is the full container ID.
	ID string
	// Name is the container's name, without docker's leading "/".
	Name string
	// Image is the image as the user named it ("nginx:latest",
	// "docker.io/library/nginx:latest"), or its ID when no name is known.
	Image string
	// IPs are the container's addresses on its networks (docker only).
	IPs []netip.Addr
	// Ports are the container's published ports (docker only).
	Ports []PortBinding
	// RestartPolicy is docker's restart policy ("no", "always",
	// "unless-stopped", "on-failure"); empty when unknown.
	RestartPolicy string
	// NetworkMode is docker's network mode ("default", "bridge", "host",
	// "none", "container:ID", a network name); empty when unknown.
	NetworkMode string
	// Running and PID are the container's state as the engine last wrote
	// it (docker only): whether it runs and the host PID of its first
	// process.
	Running bool
	PID     int
	// Evidence is the metadata file the information came from.
	Evidence string
}

// PortBinding is one published port of a docker container.
type PortBinding struct {
	Proto         model.Proto
	ContainerPort uint16
	// HostAddr is the host address bound; the zero Addr when docker
	// binds every address.
	HostAddr netip.Addr
	HostPort uint16
}

// Store looks containers up in engine metadata below Root. It loads files
// lazily, on the first lookup that needs them, and caches what it read
// for its lifetime: create a new Store for each listing when containers
// may have changed. A Store is safe for concurrent use.
//
// Lookups never fail the caller: a container that is not found returns
// ok=false and a nil error; metadata that exists but cannot be read
// returns ok=false and an error that wraps the cause (errors.Is(err,
// fs.ErrPermission) when it needs root).
type Store struct {
	// Root is the filesystem root, "/" on a live system.
	Root string
	// DockerRoots are docker data roots as absolute paths inside Root. Nil
	// means the data-root of Root/etc/docker/daemon.json or
	// /var/lib/docker, then rootless docker's ~/.local/share/docker of root
	// and of every home directory under /home.
	DockerRoots []string
	// StorageRoots are containers/storage roots as absolute paths inside
	// Root. Nil means /var/lib/containers/storage, /run/containers/storage
	// (podman's transient store), then ~/.local/share/containers/storage
	// of root and of every home directory under /home.
	StorageRoots []string

	mu sync.Mutex
	// dockerDirs and storageDirs are the roots to search, worked out once.
	dockerDirs, storageDirs []string
	docker                  map[string]Info // by full ID
	// dockerAll is set once every docker container has been read;
	// dockerOrder then lists their IDs in the order of the data roots.
	dockerAll   bool
	dockerOrder []string
	storage     []storageContainer
	storageErr  error
	storageDone bool
}

// ByID returns the container with the given ID of the given runtime
// ("docker", "podman", "cri-o"; for "kubernetes" pass the engine that runs
// the pod). id is a full ID or a prefix of at least 12 hex digits; a
// prefix that matches several containers is an error.
func (s *Store) ByID(runtime, id string) (Info, bool, error) {
	if len(id) < 12 || len(id) > 64 || !isHex(id) {
		return Info{}, false, fmt.Errorf("container ID %q: want 12 to 64 lowercase hex digits", id)
	}
	switch runtime {
	case "docker":
		return s.dockerByID(id)
	case "podman", "cri-o":
		return s.storageByID(runtime, id)
	}
	return Info{}, false, fmt.Errorf("%s container %s: %w", runtime, id, ErrUnsupportedRuntime)
}

// ByIP returns the docker container that has address ip on one of its
// networks: the target of a docker-proxy. Addresses are only unique within
// one daemon's networks (a stopped container keeps its last address, and
// rootless docker reuses 172.17.0.0/16 in its own namespace), so a running
// container wins over a stopped one, then the first data root over later
// ones. Metadata that cannot be read counts as not found; ByID reports why.
func (s *Store) ByIP(ip netip.Addr) (Info, bool) {
	ip = ip.Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadAllDocker()
	var found Info
	ok := false
	for _, id := range s.dockerOrder {
		in := s.docker[id]
		for _, a := range in.IPs {
			if a.Unmap() != ip {
				continue
			}
			if !ok || in.Running && !found.Running {
				found, ok = in, true
			}
		}
	}
	return found, ok
}

// rooted returns p inside the store's root.
func (s *Store) rooted(p string) string {
	root := s.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, p)
}

// homes returns the home directories whose rootless engine data to look
// at: root's and every directory under /home, inside Root.
func (s *Store) homes() []string {
	homes := []string{"/root"}
	ents, err := os.ReadDir(s.rooted("/home"))
	if err == nil {
		for _, e := range ents {
			if e.IsDir() {
				homes = append(homes, "/home/"+e.Name())
			}
		}
	}
	return homes
}

// --- docker ---

// dockerRoots returns the docker data roots to search, inside Root.
func (s *Store) dockerRoots() []string {
	if s.dockerDirs == nil {
		s.dockerDirs = s.findDockerRoots()
	}
	return s.dockerDirs
}

func (s *Store) findDockerRoots() []string {
	if s.DockerRoots != nil {
		return s.DockerRoots
	}
	roots := []string{"/var/lib/docker"}
	if b, err := os.ReadFile(s.rooted("/etc/docker/daemon.json")); err == nil {
		var cfg struct {
			DataRoot string `json:"data-root"`
			Graph    string `json:"graph"` // before docker 17.05
		}
		if json.Unmarshal(b, &cfg) == nil {
			switch {
			case filepath.IsAbs(cfg.DataRoot):
				roots[0] = filepath.Clean(cfg.DataRoot)
			case filepath.IsAbs(cfg.Graph):
				roots[0] = filepath.Clean(cfg.Graph)
			}
		}
	}
	for _, h := range s.homes() {
		roots = append(roots, h+"/.local/share/docker")
	}
	return roots
}

func (s *Store) dockerByID(id string) (Info, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.docker == nil {
		s.docker = map[string]Info{}
	}
	if in, ok := s.docker[id]; ok {
		return in, true, nil
	}
	if len(id) < 64 {
		var match []string
		for full := range s.docker {
			if strings.HasPrefix(full, id) {
				match = append(match, full)
			}
		}
		if len(match) == 1 && s.dockerAll {
			return s.docker[match[0]], true, nil
		}
	}
	var errs []error
	for _, root := range s.dockerRoots() {
		dir := s.rooted(root + "/containers")
		full := id
		if len(id) < 64 {
			ents, err := os.ReadDir(dir)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, fmt.Errorf("reading docker metadata %s: %w", dir, err))
				}
				continue
			}
			var match []string
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), id) && len(e.Name()) == 64 {
					match = append(match, e.Name())
				}
			}
			switch len(match) {
			case 0:
				continue
			case 1:
				full = match[0]
			default:
				return Info{}, false, fmt.Errorf("docker container ID prefix %s is ambiguous in %s: %s", id, dir, strings.Join(match, ", "))
			}
		}
		in, err := readDocker(dir, full)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.docker[full] = in
		return in, true, nil
	}
	return Info{}, false, errors.Join(errs...)
}

// loadAllDocker reads every docker container it can, once; what it cannot
// read is left out.
func (s *Store) loadAllDocker() {
	if s.dockerAll {
		return
	}
	if s.docker == nil {
		s.docker = map[string]Info{}
	}
	for _, root := range s.dockerRoots() {
		ents, err := os.ReadDir(s.rooted(root + "/containers"))
		if err != nil {
			continue
		}
		dir := s.rooted(root + "/containers")
		for _, e := range ents {
			id := e.Name()
			if len(id) != 64 || !isHex(id) {
				continue
			}
			if _, ok := s.docker[id]; !ok {
				in, err := readDocker(dir, id)
				if err != nil {
					continue
				}
				s.docker[id] = in
			}
			if !slices.Contains(s.dockerOrder, id) {
				s.dockerOrder = append(s.dockerOrder, id)
			}
		}
	}
	s.dockerAll = true
}

// dockerConfig is the part of docker's config.v2.json (moby
// container.Container, saved by container.toDisk) that we read.
type dockerConfig struct {
	ID     string
	Name   string
	Image  string // image ID, "sha256:..."
	Config struct {
		Image string // as the user named it
	}
	State struct {
		Running bool
		Pid     int
	}
	NetworkSettings struct {
		Networks map[string]struct {
			IPAddress         string
			GlobalIPv6Address string
		}
		Ports map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string
		}
	}
}

// dockerHostConfig is the part of hostconfig.json (moby
// container.HostConfig, kept out of config.v2.json) that we read.
type dockerHostConfig struct {
	NetworkMode   string
	RestartPolicy struct {
		Name string
	}
}

// readDocker reads container id's metadata in dir (DATA-ROOT/containers).
func readDocker(dir, id string) (Info, error) {
	p := filepath.Join(dir, id, "config.v2.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return Info{}, fmt.Errorf("reading docker metadata %s: %w", p, err)
	}
	in, err := parseDockerConfig(b)
	if err != nil {
		return Info{}, fmt.Errorf("parsing docker metadata %s: %w", p, err)
	}
	if in.ID != id {
		return Info{}, fmt.Errorf("parsing docker metadata %s: ID %q does not match its directory", p, in.ID)
	}
	in.Evidence = p
	// The restart policy and network mode are in hostconfig.json; without
	// them the rest still names the container.
	if hb, err := os.ReadFile(filepath.Join(dir, id, "hostconfig.json")); err == nil {
		var hc dockerHostConfig
		if json.Unmarshal(hb, &hc) == nil {
			in.RestartPolicy = hc.RestartPolicy.Name
			in.NetworkMode = hc.NetworkMode
		}
	}
	return in, nil
}

// parseDockerConfig decodes a config.v2.json.
func parseDockerConfig(b []byte) (Info, error) {
	var c dockerConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return Info{}, err
	}
	in := Info{
		Runtime: "docker",
		ID:      c.ID,
		Name:    strings.TrimPrefix(c.Name, "/"),
		Image:   c.Config.Image,
		Running: c.State.Running,
		PID:     c.State.Pid,
	}
	if in.Image == "" {
		in.Image = c.Image
	}
	for _, name := range sortedKeys(c.NetworkSettings.Networks) {
		n := c.NetworkSettings.Networks[name]
		for _, s := range []string{n.IPAddress, n.GlobalIPv6Address} {
			if a, err := netip.ParseAddr(s); err == nil {
				in.IPs = append(in.IPs, a)
			}
		}
	}
	for _, key := range sortedKeys(c.NetworkSettings.Ports) {
		port, proto, _ := strings.Cut(key, "/") // "80/tcp"
		cp := parsePort(port)
		pr := parseProto(proto)
		if cp == 0 || pr == 0 {
			continue
		}
		for _, hb := range c.NetworkSettings.Ports[key] {
			pb := PortBinding{Proto: pr, ContainerPort: cp, HostPort: parsePort(hb.HostPort)}
			if a, err := netip.ParseAddr(hb.HostIP); err == nil {
				pb.HostAddr = a
			}
			in.Ports = append(in.Ports, pb)
		}
	}
	sort.SliceStable(in.Ports, func(i, j int) bool {
		a, b := in.Ports[i], in.Ports[j]
		if a.ContainerPort != b.ContainerPort {
			return a.ContainerPort < b.ContainerPort
		}
		return a.Proto < b.Proto
	})
	return in, nil
}

// --- containers/storage (podman, cri-o) ---

// storageContainer is one container of a containers/storage store.
type storageContainer struct {
	info  Info
	image string // image ID, to name the image from images.json
}

// storageRoots returns the containers/storage roots to search, inside
// Root.
func (s *Store) storageRoots() []string {
	if s.storageDirs == nil {
		s.storageDirs = s.findStorageRoots()
	}
	return s.storageDirs
}

func (s *Store) findStorageRoots() []string {
	if s.StorageRoots != nil {
		return s.StorageRoots
	}
	roots := []string{"/var/lib/containers/storage", "/run/containers/storage"}
	for _, h := range s.homes() {
		roots = append(roots, h+"/.local/share/containers/storage")
	}
	return roots
}

func (s *Store) storageByID(runtime, id string) (Info, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadStorage()
	var match []storageContainer
	for _, c := range s.storage {
		if strings.HasPrefix(c.info.ID, id) {
			match = append(match, c)
		}
	}
	switch len(match) {
	case 0:
		return Info{}, false, s.storageErr
	case 1:
		in := match[0].info
		in.Runtime = runtime
		return in, true, nil
	}
	ids := make([]string, len(match))
	for i, c := range match {
		ids[i] = c.info.ID
	}
	return Info{}, false, fmt.Errorf("%s container ID prefix %s is ambiguous: %s", runtime, id, strings.Join(ids, ", "))
}

// loadStorage reads every containers/storage store, once.
func (s *Store) loadStorage() {
	if s.storageDone {
		return
	}
	s.storageDone = true
	var errs []error
	seen := map[string]bool{}
	for _, root := range s.storageRoots() {
		dir := s.rooted(root)
		ents, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("reading container storage %s: %w", dir, err))
			}
			continue
		}
		images := map[string]string{}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), "-images") {
				p := filepath.Join(dir, e.Name(), "images.json")
				if err := readStorageImages(p, images); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), "-containers") {
				continue
			}
			for _, f := range []string{"containers.json", "volatile-containers.json"} {
				p := filepath.Join(dir, e.Name(), f)
				cs, err := readStorageContainers(p)
				if err != nil {
					if !errors.Is(err, fs.ErrNotExist) {
						errs = append(errs, err)
					}
					continue
				}
				for _, c := range cs {
					if seen[c.info.ID] {
						continue
					}
					seen[c.info.ID] = true
					if c.info.Image == "" {
						c.info.Image = images[c.image]
					}
					if c.info.Image == "" {
						c.info.Image = c.image
					}
					s.storage = append(s.storage, c)
				}
			}
		}
	}
	s.storageErr = errors.Join(errs...)
}

// storageContainerJSON is one entry of containers.json (containers/storage
// Container).
type storageContainerJSON struct {
	ID       string   `json:"id"`
	Names    []string `json:"names"`
	Image    string   `json:"image"`
	Metadata string   `json:"metadata"`
}

// storageMetadata is the JSON that podman (libpod
// RuntimeContainerMetadata) and cri-o store in a container's "metadata"
// string.
type storageMetadata struct {
	ImageName string `json:"image-name"`
	ImageID   string `json:"image-id"`
	Name      string `json:"name"`
}

// readStorageContainers reads a containers.json.
func readStorageContainers(p string) ([]storageContainer, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading container storage %s: %w", p, err)
	}
	cs, err := parseStorageContainers(b)
	if err != nil {
		return nil, fmt.Errorf("parsing container storage %s: %w", p, err)
	}
	for i := range cs {
		cs[i].info.Evidence = p
	}
	return cs, nil
}

// parseStorageContainers decodes a containers.json.
func parseStorageContainers(b []byte) ([]storageContainer, error) {
	var list []storageContainerJSON
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, err
	}
	var out []storageContainer
	for _, c := range list {
		if len(c.ID) != 64 || !isHex(c.ID) {
			continue
		}
		var md storageMetadata
		if c.Metadata != "" {
			// Buildah and other users of the store may put anything
			// here; a name from "names" is enough without it.
			_ = json.Unmarshal([]byte(c.Metadata), &md)
		}
		sc := storageContainer{
			info:  Info{ID: c.ID, Name: md.Name, Image: md.ImageName},
			image: c.Image,
		}
		if len(c.Names) > 0 {
			sc.info.Name = c.Names[0]
		}
		if sc.image == "" {
			sc.image = md.ImageID
		}
		out = append(out, sc)
	}
	return out, nil
}

// readStorageImages adds image ID → first name from an images.json.
func readStorageImages(p string, names map[string]string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading container storage %s: %w", p, err)
	}
	var list []struct {
		ID    string   `json:"id"`
		Names []string `json:"names"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("parsing container storage %s: %w", p, err)
	}
	for _, im := range list {
		if len(im.Names) > 0 {
			names[im.ID] = im.Names[0]
		}
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
