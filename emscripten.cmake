# emscripten.cmake - the named Emscripten flag sets, in one place.
# Included by CMakeLists.txt when building with emcmake (Debian's emscripten 3.1.6).
#   SP_WASM_COMPILE_RELEASE / SP_WASM_COMPILE_DEBUG : compile flags
#   SP_WASM_LINK_COMMON                             : link flags every wasm target gets. The heap starts
#                                                     at 16 MB (1 MB of it stack) and grows by what is
#                                                     asked + at most 5% / 16 MB, so that the inference
#                                                     peak stays near weights + KV cache (bench.c)
#   SP_WASM_LINK_RELEASE / SP_WASM_LINK_DEBUG       : optimisation vs assertions
#   SP_WASM_LINK_THREADS                            : the pthreads build (pool sized at runtime)
#   SP_WASM_LINK_TEST                               : C test programs run under node

set(SP_WASM_COMPILE_RELEASE -O3 -msimd128 -DNDEBUG)
set(SP_WASM_COMPILE_DEBUG   -O1 -g -msimd128)

set(SP_WASM_LINK_COMMON
  -msimd128
  -sALLOW_MEMORY_GROWTH=1
  -sMEMORY_GROWTH_GEOMETRIC_STEP=0.05
  -sMEMORY_GROWTH_GEOMETRIC_CAP=16MB
  -sINITIAL_MEMORY=16MB
  -sMAXIMUM_MEMORY=4GB
  -sTOTAL_STACK=1MB
  -sMODULARIZE=1
  -sEXPORT_NAME=createSoftprompt
  -sENVIRONMENT=web,worker,node
  -sFILESYSTEM=0
  -sEXPORTED_FUNCTIONS=_malloc,_free
  -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8
)
set(SP_WASM_LINK_RELEASE -O3 -sASSERTIONS=0)
set(SP_WASM_LINK_DEBUG   -O1 -g -sASSERTIONS=2 -sSAFE_HEAP=1)
# Threads: the pool is sized when the module is instantiated (Module.spThreads, default 2).
set(SP_WASM_LINK_THREADS -pthread "-sPTHREAD_POOL_SIZE=Module.spThreads||2" -sPTHREAD_POOL_SIZE_STRICT=0)
set(SP_WASM_LINK_TEST -O2 -sSINGLE_FILE=1 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sENVIRONMENT=node -sEXIT_RUNTIME=1 -sNODERAWFS=1)
