// mkshim writes a minimal x64 PE DLL "bcryptprimitives.dll" whose only export,
// ProcessPrng, is a forwarder to advapi32.SystemFunction036 (RtlGenRandom).
// Wine 8.0 lacks bcryptprimitives.dll, which the Go (>=1.22) runtime needs.
// Usage: go run ./.ci/mkshim OUT.dll
package main

import (
	"bytes"
	"encoding/binary"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: go run ./.ci/mkshim OUT.dll\n")
		os.Exit(2)
	}
	const (
		fileAlign = 0x200
		sectAlign = 0x1000
		edataRVA  = 0x1000
	)
	var ed bytes.Buffer
	le := binary.LittleEndian
	dllName := "bcryptprimitives.dll\x00"
	fnName := "ProcessPrng\x00"
	fwd := "advapi32.SystemFunction036\x00"
	const dirSize = 40
	eatOff := uint32(dirSize)
	enptOff := eatOff + 4
	ordOff := enptOff + 4
	dllNameOff := ordOff + 4 // 2-byte ordinal + 2 pad
	fnNameOff := dllNameOff + uint32(len(dllName))
	fwdOff := fnNameOff + uint32(len(fnName))
	total := fwdOff + uint32(len(fwd))
	w := func(v any) { binary.Write(&ed, le, v) }
	w(uint32(0))                     // Characteristics
	w(uint32(0))                     // TimeDateStamp
	w(uint16(0))                     // MajorVersion
	w(uint16(0))                     // MinorVersion
	w(uint32(edataRVA + dllNameOff)) // Name
	w(uint32(1))                     // Base
	w(uint32(1))                     // NumberOfFunctions
	w(uint32(1))                     // NumberOfNames
	w(uint32(edataRVA + eatOff))     // AddressOfFunctions
	w(uint32(edataRVA + enptOff))    // AddressOfNames
	w(uint32(edataRVA + ordOff))     // AddressOfNameOrdinals
	w(uint32(edataRVA + fwdOff))     // EAT[0]: points inside the export dir => forwarder
	w(uint32(edataRVA + fnNameOff))  // name pointer
	w(uint16(0))                     // ordinal index
	w(uint16(0))                     // pad
	ed.WriteString(dllName)
	ed.WriteString(fnName)
	ed.WriteString(fwd)
	if uint32(ed.Len()) != total {
		panic("layout")
	}
	raw := make([]byte, (ed.Len()+fileAlign-1)/fileAlign*fileAlign)
	copy(raw, ed.Bytes())

	var h bytes.Buffer
	hw := func(v any) { binary.Write(&h, le, v) }
	dos := make([]byte, 0x40)
	copy(dos, "MZ")
	le.PutUint32(dos[0x3c:], 0x40) // e_lfanew
	h.Write(dos)
	h.WriteString("PE\x00\x00")
	hw(uint16(0x8664)) // Machine AMD64
	hw(uint16(1))      // NumberOfSections
	hw(uint32(0))      // TimeDateStamp
	hw(uint32(0))      // PointerToSymbolTable
	hw(uint32(0))      // NumberOfSymbols
	hw(uint16(240))    // SizeOfOptionalHeader (PE32+)
	hw(uint16(0x2022)) // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL
	sizeOfImage := uint32(edataRVA + (len(raw)+sectAlign-1)/sectAlign*sectAlign)
	hw(uint16(0x20b))       // Magic PE32+
	hw(uint8(0))            // MajorLinkerVersion
	hw(uint8(0))            // MinorLinkerVersion
	hw(uint32(0))           // SizeOfCode
	hw(uint32(len(raw)))    // SizeOfInitializedData
	hw(uint32(0))           // SizeOfUninitializedData
	hw(uint32(0))           // AddressOfEntryPoint: none
	hw(uint32(0))           // BaseOfCode
	hw(uint64(0x180000000)) // ImageBase
	hw(uint32(sectAlign))   // SectionAlignment
	hw(uint32(fileAlign))   // FileAlignment
	hw(uint16(6))           // MajorOperatingSystemVersion
	hw(uint16(0))           // Minor
	hw(uint16(0))           // MajorImageVersion
	hw(uint16(0))           // Minor
	hw(uint16(6))           // MajorSubsystemVersion
	hw(uint16(0))           // Minor
	hw(uint32(0))           // Win32VersionValue
	hw(sizeOfImage)         // SizeOfImage
	hw(uint32(fileAlign))   // SizeOfHeaders
	hw(uint32(0))           // CheckSum
	hw(uint16(3))           // Subsystem: console
	hw(uint16(0x0100))      // DllCharacteristics: NX_COMPAT
	hw(uint64(0x100000))    // SizeOfStackReserve
	hw(uint64(0x1000))      // SizeOfStackCommit
	hw(uint64(0x100000))    // SizeOfHeapReserve
	hw(uint64(0x1000))      // SizeOfHeapCommit
	hw(uint32(0))           // LoaderFlags
	hw(uint32(16))          // NumberOfRvaAndSizes
	hw(uint32(edataRVA))    // DataDirectory[0] export RVA
	hw(uint32(total))       //                  export size
	for i := 1; i < 16; i++ {
		hw(uint64(0))
	}
	name := [8]byte{'.', 'e', 'd', 'a', 't', 'a'}
	h.Write(name[:])
	hw(uint32(total))      // VirtualSize
	hw(uint32(edataRVA))   // VirtualAddress
	hw(uint32(len(raw)))   // SizeOfRawData
	hw(uint32(fileAlign))  // PointerToRawData
	hw(uint32(0))          // PointerToRelocations
	hw(uint32(0))          // PointerToLinenumbers
	hw(uint16(0))          // NumberOfRelocations
	hw(uint16(0))          // NumberOfLinenumbers
	hw(uint32(0x40000040)) // INITIALIZED_DATA | MEM_READ
	hdr := make([]byte, fileAlign)
	copy(hdr, h.Bytes())
	if err := os.WriteFile(os.Args[1], append(hdr, raw...), 0o644); err != nil {
		panic(err)
	}
}
