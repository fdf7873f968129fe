# Finds the CUDA toolkit, cuDNN and NCCL. The CUDA backend builds only when
# all three are present; one status line says what was found and what is skipped.
option(XT_NO_CUDA "Do not build the CUDA backend even where the toolkit is installed" OFF)
set(XT_CUDA_FOUND OFF)
set(_xt_cuda_root /usr/local/cuda)
find_program(XT_NVCC nvcc PATHS ${_xt_cuda_root}/bin NO_DEFAULT_PATH)
# XT_CUDNN_ROOT / XT_NCCL_ROOT: other install folders (e.g. the nvidia-cudnn-cu13 /
# nvidia-nccl-cu13 Python wheels, whose libraries carry only versioned names)
find_path(XT_CUDNN_INCLUDE cudnn.h PATHS ${XT_CUDNN_ROOT}/include ${_xt_cuda_root}/include /usr/include)
find_library(XT_CUDNN_LIB NAMES cudnn libcudnn.so.9
             PATHS ${XT_CUDNN_ROOT}/lib ${_xt_cuda_root}/lib64 ${_xt_cuda_root}/lib /usr/lib/x86_64-linux-gnu)
find_path(XT_NCCL_INCLUDE nccl.h PATHS ${XT_NCCL_ROOT}/include ${_xt_cuda_root}/include /usr/include)
find_library(XT_NCCL_LIB NAMES nccl libnccl.so.2
             PATHS ${XT_NCCL_ROOT}/lib ${_xt_cuda_root}/lib64 ${_xt_cuda_root}/lib /usr/lib/x86_64-linux-gnu)
set(_xt_have "")
set(_xt_miss "")
foreach(_p XT_NVCC XT_CUDNN_INCLUDE XT_CUDNN_LIB XT_NCCL_INCLUDE XT_NCCL_LIB)
  if(${_p})
    list(APPEND _xt_have ${_p})
  else()
    list(APPEND _xt_miss ${_p})
  endif()
endforeach()
if(NOT _xt_miss AND EXISTS ${CMAKE_SOURCE_DIR}/learner/cuda AND NOT XT_NO_CUDA)
  set(XT_CUDA_FOUND ON)
  message(STATUS "xtrade: CUDA backend ON (nvcc ${XT_NVCC}, cuDNN ${XT_CUDNN_LIB}, NCCL ${XT_NCCL_LIB}); GPU tests run only where a device is present")
elseif(_xt_miss)
  message(STATUS "xtrade: CUDA backend OFF (missing: ${_xt_miss}); skipping learner/cuda and its tests")
else()
  message(STATUS "xtrade: CUDA backend OFF (learner/cuda absent or XT_NO_CUDA set); skipping it")
endif()

# ---- the CUDA backend: learner/cuda/*.cu -> static library xtrade_cuda
#
# Built only when XT_CUDA_FOUND. It links cudart, cuBLAS, cuDNN and NCCL,
# and libxtrade links it in turn (a cycle CMake allows between static
# libraries: the backend uses libxtrade's model table and errors), so every
# libxtrade user gets xt_backend_cuda_new and XT_HAVE_CUDA=1. Kernels are
# compiled for sm_80 and sm_90 (machine code plus PTX, which the driver
# compiles for newer GPUs). nvcc does not take the C warning flags given to
# add_compile_options, so the target gets its own list; XT_WERROR turns host
# and nvcc warnings into errors. The CUDA runtime is linked
# shared: it loads the driver at run time, so the binaries start (and the GPU
# tests report "skipped") on machines without one.
#
# Without CUDA, learner/cuda_stub.c provides the same entry points, failing
# with "built without CUDA". The plain C parts of learner/ (backend
# selection, segment planning, NCCL id files) are in libxtrade on every build.
if(XT_CUDA_FOUND)
  set(CMAKE_CUDA_COMPILER ${XT_NVCC})
  set(CMAKE_CUDA_ARCHITECTURES 80 90)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  file(GLOB XT_CUDA_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/learner/cuda/*.cu)
  add_library(xtrade_cuda STATIC ${XT_CUDA_SRC})
  set(_xt_cuda_opts -Xcompiler=-Wall,-Wextra,-Wshadow,-Wno-unused-parameter)
  if(XT_WERROR)
    list(APPEND _xt_cuda_opts -Xcompiler=-Werror -Werror=all-warnings)
  endif()
  set_property(TARGET xtrade_cuda PROPERTY COMPILE_OPTIONS ${_xt_cuda_opts})
  target_include_directories(xtrade_cuda PRIVATE ${XT_CUDNN_INCLUDE} ${XT_NCCL_INCLUDE})
  target_link_libraries(xtrade_cuda PUBLIC xtrade CUDA::cudart CUDA::cublas ${XT_CUDNN_LIB}
                        ${XT_NCCL_LIB})
  target_link_libraries(xtrade PUBLIC xtrade_cuda)
  set_property(TARGET xtrade PROPERTY CUDA_ARCHITECTURES 80 90) # made before CUDA was enabled
  target_compile_definitions(xtrade PUBLIC XT_HAVE_CUDA=1)
else()
  target_sources(xtrade PRIVATE ${CMAKE_SOURCE_DIR}/learner/cuda_stub.c)
endif()
file(GLOB XT_LEARNER_C CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/learner/backend_select.c
     ${CMAKE_SOURCE_DIR}/learner/cuda/*.c)
target_sources(xtrade PRIVATE ${XT_LEARNER_C})
target_include_directories(xtrade PUBLIC ${CMAKE_SOURCE_DIR}/learner)
