// Window buffers: two (tiles alternate), per PE column the 3x3 windows of all input
// channels of one position, plus its 9-bit padding mask and bank rotation.
// Written by the gather, one column and channel block (nine bank words) per cycle;
// read by the PE array, one input channel of every column per cycle. Per column a
// LUT RAM of 2 x NBLK words of 9 x BA bits; the read selects channel c mod BA of each
// bank word and rotates the nine bits from bank into tap order.
// Read: address in cycle t, window bits and mask registered out in cycle t+2.
// Split tiles (SPLIT, docs/timing.md 4.2, T3): a write with `wdup` also goes to column
// wcol + COLS/2, and the upper half's columns read the channel (rblk_b, rbit_b).
`default_nettype none
module bnn_winbuf #(
    parameter COLS = 16,
    parameter CLW = 4,
    parameter BA = 64,
    parameter BIW = 6,  // bits of a channel index within a block
    parameter NBW = 3,
    parameter SPLIT = 0
) (
    input wire clk,
    input wire we,
    /* verilator lint_off UNUSEDSIGNAL */
    input wire wdup,  // a split tile's position: write column wcol + COLS/2 too (used with SPLIT)
    input wire [NBW-1:0] rblk_b,  // the upper half's read channel (used with SPLIT)
    input wire [BIW-1:0] rbit_b,
    /* verilator lint_on UNUSEDSIGNAL */
    input wire [CLW-1:0] wcol,
    input wire wbuf,
    input wire [NBW-1:0] wblk,
    input wire [9*BA-1:0] wdata,
    input wire [8:0] wmask,
    input wire [3:0] wrot,
    input wire rbuf,
    input wire [NBW-1:0] rblk,
    input wire [BIW-1:0] rbit,
    output reg [9*COLS-1:0] win,  // tap order, column-major
    output reg [9*COLS-1:0] msk
);
    localparam integer HALF = COLS / 2;
    reg [BIW-1:0] rbit1, rbit1_b;
    always @(posedge clk) begin
        rbit1 <= rbit;
        rbit1_b <= rbit_b;
    end
    genvar c, b;
    generate
        for (c = 0; c < COLS; c = c + 1) begin : g_col
            localparam integer HC = (SPLIT != 0 && c >= HALF && c < 2 * HALF) ? 1 : 0;  // the upper half
            localparam [CLW-1:0] CI = c;  // this column, and the column it copies in a split tile
            localparam integer CLI = (HC != 0) ? c - HALF : c;
            localparam [CLW-1:0] CL = CLI[CLW-1:0];
            wire wsel = (wcol == CI) || ((HC != 0) && wdup && (wcol == CL));
            wire [NBW-1:0] rb = (HC != 0) ? rblk_b : rblk;
            wire [BIW-1:0] rbit_c = (HC != 0) ? rbit1_b : rbit1;
            wire [9*BA-1:0] word;
            bnn_lutram #(.W(9 * BA), .AW(NBW + 1), .DEPTH(2 << NBW)) u_mem (
                .clk(clk), .we(we && wsel), .waddr({wbuf, wblk}), .wdata(wdata),
                .raddr({rbuf, rb}), .rdata(word)
            );
            // everything of the buffer is read in the issue cycle (the PE array's busy cycle)
            reg [9*BA-1:0] word1;
            reg [8:0] mask_r [0:1];
            reg [3:0] rot_r [0:1];
            reg [8:0] mask1;
            reg [3:0] rot;
            always @(posedge clk) begin
                word1 <= word;
                mask1 <= mask_r[rbuf];
                rot <= rot_r[rbuf];
                if (we && wsel) begin
                    mask_r[wbuf] <= wmask;
                    rot_r[wbuf] <= wrot;
                end
            end
            wire [8:0] bits_bank;
            for (b = 0; b < 9; b = b + 1) begin : g_bank
                wire [BA-1:0] bw = word1[b * BA +: BA];
                bnn_bitsel #(.W(BA), .SW(BIW)) u_sel (.v(bw), .sel(rbit_c), .o(bits_bank[b]));
            end
            wire [8:0] bits_tap;
            bnn_rot9 #(.X(1)) u_rot (.bank(bits_bank), .ym(rot[3:2]), .xm(rot[1:0]), .tap(bits_tap));
            always @(posedge clk) begin
                win[c * 9 +: 9] <= bits_tap;
                msk[c * 9 +: 9] <= mask1;
            end
        end
    endgenerate
endmodule
`default_nettype wire
