# CUDA kernels (GRAPHGPO_CUDA=ON), included by cpp/CMakeLists.txt after graphgpo_core is defined.
#
# - Architectures: CMAKE_CUDA_ARCHITECTURES if given (e.g. -DCMAKE_CUDA_ARCHITECTURES=native), otherwise
#   80 (A100) and 90 (H100/H200). Two architectures keep the nvcc time of CI modest.
# - --fmad=false: no fused multiply-add, so every device result rounds exactly like the CPU engine's.
# - The CUDA runtime is linked statically: the module needs only the NVIDIA driver, not a libcudart of
#   this toolkit's version next to PyTorch's.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES "80;90")
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

set(_graphgpo_cuda_dir ${PROJECT_SOURCE_DIR}/cpp/src/cuda)
add_library(graphgpo_cuda STATIC
  ${_graphgpo_cuda_dir}/advantages.cu
  ${_graphgpo_cuda_dir}/fingerprint.cu
  ${_graphgpo_cuda_dir}/primitives.cu)
set_target_properties(graphgpo_cuda PROPERTIES
  CUDA_STANDARD 17
  CUDA_STANDARD_REQUIRED ON
  CUDA_EXTENSIONS OFF
  CUDA_RUNTIME_LIBRARY Static
  CUDA_VISIBILITY_PRESET hidden
  POSITION_INDEPENDENT_CODE ON)
target_include_directories(graphgpo_cuda PRIVATE
  ${PROJECT_SOURCE_DIR}/cpp/include
  ${PROJECT_BINARY_DIR}/cpp/generated
  ${_graphgpo_cuda_dir})
target_compile_definitions(graphgpo_cuda PUBLIC GRAPHGPO_WITH_CUDA)
target_compile_options(graphgpo_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:--extended-lambda --fmad=false -Xcompiler=-Wall>
  $<$<CONFIG:Release>:-O3>)
# graphgpo_cuda uses the core's option validation and the core calls into graphgpo_cuda: CMake repeats
# the two static libraries on the link line.
target_link_libraries(graphgpo_cuda PUBLIC CUDA::cudart_static PRIVATE graphgpo_core)
target_link_libraries(graphgpo_core PUBLIC graphgpo_cuda)
target_compile_definitions(graphgpo_core PUBLIC GRAPHGPO_WITH_CUDA)

# A C++ check of the device path against the CPU engine (exits 77, "SKIP", without a GPU; see
# tests/cuda/smoke_main.cpp). A test driver, not part of the library or the wheel.
if(NOT SKBUILD)
  add_executable(graphgpo_cuda_smoke ${PROJECT_SOURCE_DIR}/tests/cuda/smoke_main.cpp)
  target_link_libraries(graphgpo_cuda_smoke PRIVATE graphgpo_core CUDA::cudart_static)
endif()
