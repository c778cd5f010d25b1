// Fixture for the bit2hls synth parser tests (src/synth/testdata/). One design that makes every
// cell family the parser counts appear: LUTs of several sizes, CARRY, DSP, flip-flops with sync
// and async resets, wide muxes (MUXF7/MUXF8), a shift register (SRL) and a block RAM.
module fixture_top (
    input  wire        clk,
    input  wire        rst,
    input  wire [7:0]  a, b, c, d,
    input  wire [11:0] m, n,
    input  wire [15:0] sel_data,
    input  wire [3:0]  sel,
    input  wire [9:0]  addr,
    input  wire        we,
    input  wire [17:0] wdata,
    output reg  [23:0] y,
    output reg  [3:0]  cnt,
    output wire        muxo,
    output wire        srlo,
    output reg  [17:0] rdata
);
    // adder tree with explicit sign extension
    wire signed [8:0]  s0 = {a[7], a} + {b[7], b};
    wire signed [8:0]  s1 = {c[7], c} + {d[7], d};
    wire signed [9:0]  t  = {s0[8], s0} + {s1[8], s1};
    wire signed [23:0] p  = $signed(m) * $signed(n);
    always @(posedge clk) y <= p + {{14{t[9]}}, t};

    // counter with an asynchronous reset
    always @(posedge clk or posedge rst)
        if (rst) cnt <= 4'd0; else cnt <= cnt + 4'd1;

    // 16:1 mux
    assign muxo = sel_data[sel];

    // 24-deep shift register, no reset
    reg [23:0] sr;
    always @(posedge clk) sr <= {sr[22:0], a[0]};
    assign srlo = sr[23];

    // 1024 x 18 memory with a registered read
    reg [17:0] mem [0:1023];
    always @(posedge clk) begin
        if (we) mem[addr] <= wdata;
        rdata <= mem[addr];
    end
endmodule
