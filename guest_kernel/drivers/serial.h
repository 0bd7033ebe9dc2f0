// COM1, a 16550 UART at I/O port 0x3f8 (asi_abi::kCom1Port): the console.
#pragma once
#include <stddef.h>

namespace serial {

void put_char(char c);
void write(const char* s, size_t n);

}  // namespace serial
